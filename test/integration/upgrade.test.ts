import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../core/config/shards.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { microTime } from '../../runner/lease.ts';
import { parseStateRecord } from '../../runner/state-record.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { adminClient, kubeconfig } from '../helpers/cluster.ts';
import { REGISTRY } from '../helpers/registry-fixture.ts';
import { type PassWorld, makePassWorld, worldServersOfFile } from '../helpers/pass-world.ts';

// The upgrade from the single state ConfigMap to one per shard, on a live namespace, mid-history:
// the last version with one state object (its own source, from this repository's history, with its
// own CLI and its own manifests) follows the three followers first — one closed out, one in flight,
// one whose trigger failed — then this version is applied with three shards and takes over. Every
// remembered sha carries over and exactly-once holds across the upgrade; the old version, run again
// after it, finds no state and sends nothing.

/** The last commit whose pass keeps every record in one state ConfigMap. */
const OLD_VERSION = 'e1383df5ce7e8cc23977cad4a7fe872ec278b321';
const CM = resourceType('v1', 'ConfigMap');
const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');
const SHARDS = 3;

const servers = worldServersOfFile();
let oldDir = '';

beforeAll(() => {
  oldDir = mkdtempSync(join(tmpdir(), 'bf-old-version-'));
  const archive = execFileSync('git', ['-C', ROOT, 'archive', OLD_VERSION], { maxBuffer: 64 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', oldDir], { input: archive });
  // The old version's own runtime dependencies, from its own lockfile (npm's cache serves them).
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: oldDir,
    stdio: 'ignore',
  });
}, 300_000);
afterAll(() => rmSync(oldDir, { recursive: true, force: true }));

/** The registry as the old version reads it: the same, without the tunables it did not know. */
function oldRegistry(w: PassWorld): string {
  const text = readFileSync(join(w.root, REGISTRY), 'utf8')
    .replace(/\n {4}watchWindow:\n( {6}\w+: \w+\n)+/, '\n')
    .replace(/\n {2}progress:\n {4}heartbeatSeconds: \d+\n/, '\n')
    .replace(/\n {2}expectSha:\n {4}waitSeconds: \d+\n {4}pollIntervalSeconds: \d+\n/, '\n')
    .replace(/\n {4}shards: \d+\n {4}concurrency:\n( {6}\w+: \d+\n)+/, '\n')
    .replace(/\n {4}objects: \d+\n/, '\n');
  const file = join(w.root, 'config/old-branch-followers.yaml');
  writeFileSync(file, text);
  return file;
}

/** Runs the old version's CLI against the world, as its own process. */
function oldCli(w: PassWorld, config: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(oldDir, 'src/cli/main.ts'), ...args, '--config', config, '--kubeconfig', kubeconfig()],
      { cwd: w.root, env: { ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

const shardEdits = [
  { from: /shards: 1\n/, to: `shards: ${SHARDS}\n` },
  { from: /objects: 1\n/, to: `objects: ${SHARDS}\n` },
];

describe('upgrading a live namespace from one state ConfigMap to one per shard (real API server)', () => {
  it('carries every record over on the first pass: nothing is sent again, the in-flight run closes out', async () => {
    const w = await makePassWorld(servers(), 'upgrade', shardEdits);
    const config = oldRegistry(w);
    const admin = adminClient();
    // The old version's own manifests: its single state ConfigMap and its Lease.
    const applied = await oldCli(w, config, ['apply', '--confirm']);
    expect(applied.code, applied.out).toBe(0);
    expect(await admin.get(CM, w.ns, 'branch-follower-state')).toBeDefined();

    // History under the old version: hwlab closes out; agentrun is triggered and its run still
    // going; web-probe's trigger fails.
    const hwlab = await w.push('hwlab-jd01-v03', { snapshot: true });
    let r = await oldCli(w, config, ['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait']);
    expect(r.code, r.out).toBe(0);
    const agentrun = await w.push('agentrun-jd01-v02', { snapshot: true });
    const probe = await w.push('web-probe-sentinel-master', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 6 }, 'web-probe:v03': { triggerExit: 3 } } });
    r = await oldCli(w, config, ['run-once', '--all', '--confirm']);
    const old = (await admin.get(CM, w.ns, 'branch-follower-state'))!.data as Record<string, string>;
    const phases = Object.fromEntries(
      Object.entries(old).map(([id, text]) => [
        id,
        (parseStateRecord(text) as { record: { phase: string } }).record.phase,
      ]),
    );
    expect(phases, r.out).toEqual({
      'hwlab-jd01-v03': 'Noop', // the old version looks again after a closeout (Succeeded → Observed → Noop)
      'agentrun-jd01-v02': 'ClosingOut',
      'web-probe-sentinel-master': 'Failed',
    });
    const sent = () => ({
      hwlab: w.triggersOf('hwlab-jd01-v03').map((t) => t.sha),
      agentrun: w.triggersOf('agentrun-jd01-v02').map((t) => t.sha),
      probe: w.triggersOf('web-probe-sentinel-master').map((t) => t.sha),
    });
    expect(sent()).toEqual({ hwlab: [hwlab], agentrun: [agentrun], probe: [] });

    // The upgrade: this version's manifests (three shards), then its first pass.
    const up = await w.run(['apply', '--confirm', '--wait']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-state\s+kept/m);
    // web-probe's next attempt starts a run; the retry waits out statusLagSeconds (1 s) after the failure.
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 6 } } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const first = await w.run(['run-once', '--all', '--confirm', '--wait']);
    expect(first.stderr).toContain('carried 3 record(s) over from ConfigMap');
    // The carried records, each in its own shard, every remembered sha with it; the old object is gone.
    expect(await admin.get(CM, w.ns, 'branch-follower-state')).toBeUndefined();
    for (const [id, text] of Object.entries(old)) {
      const shard = (await admin.get(CM, w.ns, `branch-follower-state-${shardOf(id, SHARDS)}`))!;
      const now = parseStateRecord((shard.data as Record<string, string>)[id]!);
      const before = parseStateRecord(text);
      if (!('record' in now) || !('record' in before)) throw new Error(`record of ${id} unreadable`);
      expect(now.record.triggered.slice(0, before.record.triggered.length), id).toEqual(before.record.triggered);
    }
    // Exactly once across the upgrade: hwlab is not sent again, agentrun's run closes out without a
    // second send; web-probe's failed sha is retried once, as its second attempt (the count carried over).
    expect(sent()).toEqual({ hwlab: [hwlab], agentrun: [agentrun], probe: [probe] });
    expect((await w.record('web-probe-sentinel-master'))?.attempts?.count, first.stderr).toBe(2);
    expect((await w.record('agentrun-jd01-v02'))?.phase, first.stderr).toBe('Succeeded');
    expect((await w.record('hwlab-jd01-v03'))?.phase).toBe('Noop');

    // The old version, run again after the upgrade, finds no state and sends nothing.
    await w.push('hwlab-jd01-v03', { snapshot: true });
    const late = await oldCli(w, config, ['run-once', '--all', '--confirm']);
    expect(late.code, late.out).toBe(5);
    expect(late.out).toMatch(/branch-follower-state does not exist/);
    expect(sent().hwlab).toEqual([hwlab]);
  });

  it('does not act while a pass of the old version holds its Lease; the records stay where they are', async () => {
    const w = await makePassWorld(servers(), 'upgrade-busy', shardEdits);
    const config = oldRegistry(w);
    const admin = adminClient();
    expect((await oldCli(w, config, ['apply', '--confirm'])).code).toBe(0);
    const sha = await w.push('hwlab-jd01-v03', { snapshot: true });
    expect((await oldCli(w, config, ['run-once', '--follower', 'hwlab-jd01-v03', '--confirm'])).code).toBe(0);
    expect((await w.run(['apply', '--confirm'])).code).toBe(0);
    // An old pass is acting: it holds the old layout's Lease.
    const lease = (await admin.get(LEASE, w.ns, 'branch-follower-leader'))!;
    await admin.update(
      {
        ...lease,
        spec: { ...(lease.spec as object), holderIdentity: 'old-pass', renewTime: microTime(Date.now()) },
      },
      'old-pass',
    );
    await w.push('agentrun-jd01-v02', { snapshot: true });
    const r = await w.run(['run-once', '--all', '--confirm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skipped: lease held by old-pass/);
    expect(r.stderr).toMatch(/not acting until its records are carried over/);
    expect(w.triggersOf('agentrun-jd01-v02')).toEqual([]);
    expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.sha)).toEqual([sha]);
    expect(Object.keys(((await admin.get(CM, w.ns, 'branch-follower-state'))!.data as object) ?? {})).toEqual([
      'hwlab-jd01-v03',
    ]);
  });
});
