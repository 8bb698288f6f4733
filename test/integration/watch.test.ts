import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { watchCollection } from '../../core/kube/watch.ts';
import { FOLLOWER_LABEL } from '../../runner/read.ts';
import { emptyRecord } from '../../runner/state-record.ts';
import { runCli } from '../../src/cli/run.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { adminClient, appliedFixture, compactEtcd, kubeconfig } from '../helpers/cluster.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

afterAll(removeFixtures);

const CONFIGMAP = resourceType('v1', 'ConfigMap');
/** What the issue asks of a watch: a change shows within this long. */
const SHOWS_WITHIN_MS = 2000;

/** The CLI in-process, its output readable while it runs, ended by `stop()` as Ctrl-C ends it. */
function watching(argv: string[], cwd: string) {
  const out = { stdout: '', stderr: '' };
  const interrupt = new AbortController();
  const done = runCli(
    [...argv, '--kubeconfig', kubeconfig()],
    {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      cwd,
      env: {},
      interrupt: interrupt.signal,
    },
    'branch-follower',
  );
  return { out, done, stop: () => interrupt.abort() };
}

/** Resolves once `text()` matches, and how long that took; fails after `withinMs`. */
async function shows(text: () => string, pattern: RegExp, withinMs: number): Promise<number> {
  const start = Date.now();
  while (!pattern.test(text())) {
    if (Date.now() - start > withinMs) throw new Error(`not shown within ${withinMs} ms: ${pattern}\n${text()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

const EVENT = resourceType('events.k8s.io/v1', 'Event');

/** Records an Event as the pass does. */
async function postEvent(ns: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  await adminClient().post(
    `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
    {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, labels },
      eventTime: new Date().toISOString().replace(/\.\d+Z$/, '.000000Z'),
      type: 'Normal',
      action: 'Triggering',
      reason: 'NewSha',
      note: 'seen by the watch',
      reportingController: 'branch-follower',
      reportingInstance: 'test',
      regarding: { kind: 'ConfigMap', namespace: ns, name: 'branch-follower-state-0' },
    },
    'create',
    'Event',
  );
}

async function writeRecord(ns: string, id: string, phase: string): Promise<void> {
  const c = adminClient();
  const cm = (await c.get(CONFIGMAP, ns, 'branch-follower-state-0'))!;
  const record = { ...emptyRecord(new Date().toISOString()), observedSha: 'c'.repeat(40), phase };
  const data = { ...((cm.data as Record<string, string> | undefined) ?? {}), [id]: JSON.stringify(record) };
  await c.update({ ...cm, data }, 'branch-follower-pass');
}

describe('watches against a real API server', () => {
  it('status --watch prints a state change within 2 s, and Ctrl-C ends it with exit 0', async () => {
    const { ns, root } = await appliedFixture('watch-status');
    const w = watching(['status', '--watch'], root);
    await shows(() => w.out.stdout, /^hwlab-jd01-v03\s+v0\.3\s+-\s+NotObserved/m, 20_000);
    await new Promise((r) => setTimeout(r, 300)); // the watches have listed
    const before = w.out.stdout.length;
    await writeRecord(ns, 'hwlab-jd01-v03', 'ClosingOut');
    const ms = await shows(
      () => w.out.stdout.slice(before),
      /^hwlab-jd01-v03\s+v0\.3\s+cccccccccccc\s+ClosingOut/m,
      SHOWS_WITHIN_MS,
    );
    expect(ms).toBeLessThan(SHOWS_WITHIN_MS);
    // Printed again whole, after an empty line; a change to an object status does not show is not printed.
    expect(w.out.stdout.slice(before)).toMatch(/^\ncontroller /);
    const after = w.out.stdout.length;
    await adminClient().post(
      `/api/v1/namespaces/${ns}/configmaps`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated' }, data: { a: 'b' } },
      'create',
      'ConfigMap',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(w.out.stdout.length).toBe(after);
    w.stop();
    expect(await w.done).toBe(0);
    expect(w.out.stderr).toBe('');
  });

  it('a watch the server ended (its timeoutSeconds) is resumed without missing a change', async () => {
    const { ns, root } = await appliedFixture('watch-resume');
    // One watch request lasts --request-timeout: the server ends each after 1 s, and it is resumed.
    const w = watching(['status', '-w', '--request-timeout', '1s'], root);
    await shows(() => w.out.stdout, /^agentrun-jd01-v02\s+v0\.2\s+-\s+NotObserved/m, 20_000);
    await new Promise((r) => setTimeout(r, 2500));
    await writeRecord(ns, 'agentrun-jd01-v02', 'Succeeded');
    await shows(() => w.out.stdout, /^agentrun-jd01-v02\s+v0\.2\s+cccccccccccc\s+Succeeded/m, SHOWS_WITHIN_MS);
    w.stop();
    expect(await w.done).toBe(0);
    expect(w.out.stderr).toBe('');
  });

  it('events --watch prints a new Event of the follower within 2 s', async () => {
    const { ns, root } = await appliedFixture('watch-events');
    const w = watching(['events', '--follower', 'agentrun-jd01-v02', '-w'], root);
    await shows(() => w.out.stdout, /Kubernetes Events of agentrun-jd01-v02[^\n]*\n {2}\(none\)/, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await postEvent(ns, 'agentrun-jd01-v02.watch', { [FOLLOWER_LABEL]: 'agentrun-jd01-v02' });
    const ms = await shows(() => w.out.stdout, /Normal\s+Triggering\s+NewSha\s+seen by the watch/, SHOWS_WITHIN_MS);
    expect(ms).toBeLessThan(SHOWS_WITHIN_MS);
    w.stop();
    expect(await w.done).toBe(0);
  });

  it('a watch whose resourceVersion expired (410 Gone) lists again and goes on', async () => {
    const { ns } = await appliedFixture('watch-gone');
    const client = adminClient();
    // A version from before a compaction of etcd's history, as a watch left running for long holds
    // (the test API server watches Events straight from etcd: scripts/envtest/control-plane.ts).
    const listed = await client.listAt(EVENT, ns, '');
    // Two writes: etcd keeps the revision it is compacted at, and the first must be before it.
    await postEvent(ns, 'before-compaction-1');
    await postEvent(ns, 'before-compaction-2');
    await compactEtcd();
    const lines: string[] = [];
    const resets: string[][] = [];
    const changes: string[] = [];
    const stop = new AbortController();
    const watched = watchCollection(
      client,
      EVENT,
      ns,
      {
        reset: (items) => resets.push(items.map((o: KubeObject) => o.metadata.name).sort()),
        change: (kind, o) => changes.push(`${kind} ${o.metadata.name}`),
      },
      { labelSelector: '', signal: stop.signal, progress: (l) => lines.push(l), startAt: listed.resourceVersion },
    );
    await shows(
      () => lines.join('\n'),
      new RegExp(`resourceVersion ${listed.resourceVersion} expired \\(410 Gone\\); listing again`),
      10_000,
    );
    await shows(() => String(resets.length), /^1$/, 10_000);
    expect(resets[0]).toEqual(['before-compaction-1', 'before-compaction-2']);
    await postEvent(ns, 'after-expiry');
    await shows(() => changes.join('\n'), /^ADDED after-expiry$/m, SHOWS_WITHIN_MS);
    stop.abort();
    await watched;
  });

  it('Ctrl-C (SIGINT) ends the CLI process watching status with exit 0', async () => {
    const { root } = await appliedFixture('watch-sigint');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'build/branch-follower.js'), 'status', '--watch', '--kubeconfig', kubeconfig()],
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await shows(() => stdout, /^web-probe-sentinel-master\s/m, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
  });
});
