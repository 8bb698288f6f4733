import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceType } from '../../core/kube/resources.ts';
import { parseStateRecord } from '../../runner/state-record.ts';
import { envtestAssets } from '../../scripts/envtest/assets.ts';
import {
  restartApiserver,
  startControlPlane,
  stopControlPlane,
  type ControlPlaneInfo,
} from '../../scripts/envtest/control-plane.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import { adminClient } from '../helpers/cluster.ts';
import {
  disposeWorlds,
  eventually,
  exited,
  makePassWorld,
  REPOS,
  type FollowerId,
  type PassWorld,
} from '../helpers/pass-world.ts';

// kube-apiserver crashed and restarted on the same etcd, for real, at four points of one reconcile
// pass of the CLI (`run-once --all --confirm --wait`): while it takes the Lease and reads the
// state, between a write-ahead record and its trigger (the control plane's CLI lags), while --wait
// follows closeout, and while a closed-out run's records are written. Each restart costs the pass
// a delay, never an exit: exactly one trigger per sha, every record Succeeded. The cluster is this
// file's own, so the shared one is never restarted under another test.

const CM = resourceType('v1', 'ConfigMap');
const FOLLOWERS = Object.keys(REPOS) as FollowerId[];
/** From the kill to the start of the new process; with its start-up the server is away ~10 s. */
const DOWN_MS = 6_000;
const RETRY_LINE = /^kube: .+: cannot reach the API server \(.+\); retry \d+ in \d+\.\ds \(\d+\.\ds of 30s budget\)$/gm;

let cp: ControlPlaneInfo;
let cpDir: string;
let git: GitServer;
let ssh: SshUpstream;
const restarts: { readonly at: string; readonly outageMs: number }[] = [];

beforeAll(async () => {
  cpDir = mkdtempSync(join(tmpdir(), 'bf-restart-cp-'));
  [cp, git, ssh] = await Promise.all([
    startControlPlane({
      assets: envtestAssets(),
      dir: cpDir,
      contextAliases: ['unidesk-jd01'],
      guardParent: true,
      readyTimeoutMs: 60_000,
    }),
    startGitServer(),
    startSshUpstream(),
  ]);
});
afterAll(async () => {
  disposeWorlds();
  await Promise.all([cp && stopControlPlane(cp), git?.dispose(), ssh?.dispose()]);
  rmSync(cpDir, { recursive: true, force: true });
  console.log(
    `kube-restart: ${restarts.length} restart(s): ${restarts.map((r) => `${r.at} ${(r.outageMs / 1000).toFixed(1)}s`).join(', ')}`,
  );
});

/** Crashes kube-apiserver now and brings it back on the same etcd; resolves once it is ready again. */
async function restart(at: string): Promise<void> {
  const { info, outageMs } = await restartApiserver(cp, DOWN_MS);
  cp = info;
  restarts.push({ at, outageMs });
}

async function recordOf(w: PassWorld, id: FollowerId) {
  const cm = await adminClient({ kubeconfig: cp.kubeconfig }).get(CM, w.ns, 'branch-follower-state-0');
  const parsed = parseStateRecord((cm!.data as Record<string, string>)[id]!);
  if ('error' in parsed) throw new Error(`record of ${id}: ${parsed.error}`);
  return parsed.record;
}

/** A point of the pass to restart the API server at: as soon as its output so far matches. */
interface RestartPoint {
  readonly at: string;
  readonly when: (output: string) => boolean;
}

/**
 * One confirmed pass of every follower, following closeout, as its own process, with the API
 * server restarted at each point in turn. Its exit code, its output, where in it each restart
 * began, a timeline (seconds since start, each chunk of stderr) for failure messages, and its
 * wall time.
 */
async function pass(w: PassWorld, points: readonly RestartPoint[]) {
  const started = Date.now();
  const child = w.spawn(['run-once', '--all', '--confirm', '--wait']);
  const timeline: string[] = [];
  child.stderr!.on('data', (c) =>
    timeline.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${String(c).trimEnd()}`),
  );
  const marks: number[] = [];
  const restarting = (async () => {
    for (const p of points) {
      await eventually(p.at, () => p.when(child.output()), 60_000);
      marks.push(child.output().length);
      await restart(p.at);
    }
  })();
  const [code] = await Promise.all([exited(child), restarting]);
  return { code, output: child.output(), marks, timeline: timeline.join('\n'), seconds: (Date.now() - started) / 1000 };
}

const closingOut = (id: FollowerId) => new RegExp(`\\[${id}\\] Triggering -> ClosingOut`);
const POINTS: readonly RestartPoint[] = [
  // Before the pass's first request: it meets the restart taking the Lease and reading the state.
  { at: 'Lease and state read', when: () => true },
  // hwlab's write-ahead is stored; its Events and its trigger are on their way (its CLI lags 2 s),
  // and the record of what the trigger started is written into the restart.
  { at: 'write-ahead → trigger', when: (out) => /\[hwlab-jd01-v03\] \S+ -> Triggering/.test(out) },
  // Every follower triggered: the pass sleeps, renews the Lease, reads the state, asks for status.
  { at: 'closeout wait', when: (out) => FOLLOWERS.every((id) => closingOut(id).test(out)) },
  // hwlab's run succeeded and its GitOps commit is being flushed: the closing writes meet the restart.
  { at: 'closing writes', when: (out) => /\[hwlab-jd01-v03\] flush refs\/heads\//.test(out) },
];

describe('a reconcile pass through kube-apiserver restarts', () => {
  it('restarts while it takes the Lease, between a write-ahead and its trigger, during the closeout wait and ' +
    'its closing writes cost it a delay: exit 0, one trigger per sha, every record Succeeded', async () => {
    const w = await makePassWorld({ git, ssh }, 'restart', [], { kubeconfig: cp.kubeconfig });
    const applied = await w.run(['apply', '--confirm', '--wait']);
    expect(applied.code, applied.stderr).toBe(0);
    // Every run lasts 15 s; the hwlab CLI lags 2 s before its trigger lands.
    w.configure({
      lanes: {
        ...Object.fromEntries(FOLLOWERS.map((id) => [REPOS[id].lane, { runSeconds: 15 }])),
        'hwlab:v03': { runSeconds: 15, triggerHangSeconds: 2 },
      },
    });
    const pushAll = async () =>
      Object.fromEntries(await Promise.all(FOLLOWERS.map(async (id) => [id, await w.push(id)] as const)));

    // GIVEN one calm pass, to know what the same pass costs without a restart
    const first = await pushAll();
    const calm = await pass(w, []);
    expect(calm.code, calm.timeline).toBe(0);
    expect(calm.output.match(RETRY_LINE), calm.timeline).toBeNull();

    // WHEN every branch moves again and the API server is restarted at each point of the pass
    const second = await pushAll();
    const stormy = await pass(w, POINTS);

    // THEN the pass waited each restart out and did what the calm pass did
    expect(stormy.code, stormy.timeline).toBe(0);
    expect(stormy.output, stormy.timeline).not.toMatch(/^error: /m);
    expect(restarts.map((r) => r.at)).toEqual(POINTS.map((p) => p.at));
    for (const r of restarts) expect(r.outageMs).toBeGreaterThanOrEqual(DOWN_MS);
    for (const id of FOLLOWERS) {
      expect(
        w.triggersOf(id).map((t) => t.sha),
        `${id}\n${stormy.timeline}`,
      ).toEqual([first[id], second[id]]);
      expect(await recordOf(w, id), id).toMatchObject({ phase: 'Succeeded', lastSucceededSha: second[id] });
    }
    // Each restart was met by retries, each said on stderr, between it and the next one.
    const bounds = [...stormy.marks, stormy.output.length];
    POINTS.forEach((p, i) => {
      const lines = stormy.output.slice(bounds[i], bounds[i + 1]).match(RETRY_LINE) ?? [];
      expect(lines.length, `retries after the restart at ${p.at}\n${stormy.timeline}`).toBeGreaterThan(0);
    });
    console.log(
      `kube-restart: the pass took ${calm.seconds.toFixed(1)}s calm and ${stormy.seconds.toFixed(1)}s through ` +
        `${restarts.length} restarts (${(stormy.output.match(RETRY_LINE) ?? []).length} retry lines)`,
    );
  }, 180_000);
});
