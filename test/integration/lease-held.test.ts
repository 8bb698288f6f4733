import { describe, expect, it } from 'vitest';
import { resourceType } from '../../core/kube/resources.ts';
import { microTime } from '../../runner/lease.ts';
import { adminClient } from '../helpers/cluster.ts';
import { type PassWorld, eventually, exited, makePassWorld, worldServersOfFile } from '../helpers/pass-world.ts';

// The Lease is held while the pass acts, on a real API server: renewed in the background through a
// look longer than the Lease, and checked before every write-ahead and trigger, so a pass stalled
// past its Lease (SIGSTOP, as a starved node or a long GC pause does) stops acting once it runs
// again. The worlds' Lease lasts 4 s and is renewed every second; adapters time out after 3 s.

const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');
const LEASE_NAME = 'branch-follower-leader-0';

const servers = worldServersOfFile();

const lease = async (w: PassWorld) => (await adminClient().get(LEASE, w.ns, LEASE_NAME))!;
const holder = async (w: PassWorld) => ((await lease(w)).spec as { holderIdentity?: string }).holderIdentity;

describe('the Lease while a pass acts (real API server)', () => {
  it('a look longer than the Lease keeps it: a pass started meanwhile skips, and each sha is sent once', async () => {
    // One adapter call at a time, so the look is three status calls long.
    const w = await makePassWorld(servers(), 'lease-long', [{ from: /adapterCalls: \d+/, to: 'adapterCalls: 1' }]);
    const hwlab = await w.push('hwlab-jd01-v03', { snapshot: true });
    const agentrun = await w.push('agentrun-jd01-v02', { snapshot: true });
    await w.push('web-probe-sentinel-master');
    // Three status calls of 2.5 s each: one look takes longer than the 4 s Lease.
    const slow = { statusHangSeconds: 2.5 };
    w.configure({ lanes: { 'hwlab:v03': slow, 'agentrun:jd01-v02': slow, 'web-probe:v03': slow } });
    const a = w.spawn(['run-once', '--all', '--confirm', '--controller']);
    await eventually('the first pass holding the Lease', async () => Boolean(await holder(w)));
    const first = await holder(w);
    await new Promise((r) => setTimeout(r, 4500)); // past the Lease duration, mid-look
    const b = w.spawn(['run-once', '--all', '--confirm', '--controller']);
    const [codeA, codeB] = await Promise.all([exited(a), exited(b)]);
    expect([codeA, codeB], `${a.output()}\n---\n${b.output()}`).toEqual([0, 0]);
    expect(b.output()).toMatch(new RegExp(`skipped: lease held by ${first}`));
    expect(a.output()).not.toContain('skipped');
    expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.sha)).toEqual([hwlab]);
    expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([agentrun]);
  });

  it('a pass stalled past its Lease, which another pass took, stops at once when it runs again: one line, exit 0', async () => {
    const w = await makePassWorld(servers(), 'lease-lost');
    const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { statusHangSeconds: 2.5 } } });
    const child = w.spawn(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
    await eventually('the pass holding the Lease', async () => Boolean(await holder(w)));
    process.kill(-child.pid!, 'SIGSTOP'); // the pass and its adapter, frozen mid-look
    try {
      await new Promise((r) => setTimeout(r, 5000)); // its 4 s Lease runs out
      const expired = await lease(w);
      const spec = expired.spec as Record<string, unknown>;
      await adminClient().update(
        { ...expired, spec: { ...spec, holderIdentity: 'pass-b', renewTime: microTime(Date.now()) } },
        'pass-b',
      );
    } finally {
      process.kill(-child.pid!, 'SIGCONT');
    }
    const code = await exited(child);
    const out = child.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(
      /^stopped: pass-b took the Lease over while this pass acted \(renewed \d+s ago\); it goes on from here$/m,
    );
    expect(out.match(/pass-b/g)).toHaveLength(1);
    expect(w.triggersOf('agentrun-jd01-v02')).toEqual([]); // nothing sent under a lost Lease
    expect((await w.record('agentrun-jd01-v02'))?.triggered ?? []).not.toContain(sha); // no write-ahead either
    expect(await holder(w)).toBe('pass-b'); // and it was not released from under the new holder
  });
});
