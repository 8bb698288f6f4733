import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { CallHook, PortCall } from '../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import { runPass } from '../../runner/pass.ts';

// The real pass on the in-memory ports with another writer updating the state right before the
// pass's writes land (a genuine compare-and-swap loss, as a 409 from the API server).

const ROOT = join(import.meta.dirname, '../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);

function world(conflictRetries: number) {
  const loaded = {
    ...base,
    registry: {
      ...base.registry,
      controller: { ...base.registry.controller, pass: { ...base.registry.controller.pass, conflictRetries } },
    },
  };
  const f = loaded.registry.followers.find((x) => x.id === 'hwlab-jd01-v03')!;
  const now = Date.parse('2026-01-01T00:00:00.000Z');
  const slept: number[] = [];
  // Time stands still: the pass's own waits return at once (and are recorded); the Lease keeper's
  // background wait (the one with a signal) ends only when the pass stops it.
  const clock = {
    now: () => now,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal) return new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      slept.push(ms);
    },
  };
  const w = new MemoryWorld(loaded, clock.now);
  w.mirror.push(f.source.mirror, f.source.branch, shaOf('tip'));
  return { loaded, f, w, clock, slept };
}

const loadedBackoff = () => base.registry.controller.pass.conflictBackoffMilliseconds;

/** Counts the calls, and lets another writer in before the first `writes` state writes. */
function hook(w: MemoryWorld, foreignWrites: number): CallHook & { calls: PortCall[] } {
  const calls: PortCall[] = [];
  let left = foreignWrites;
  return {
    calls,
    async around<T>(call: PortCall, effect: () => T) {
      calls.push(call);
      if (call.port === 'state' && call.method === 'write' && left > 0) {
        left--;
        w.state.touch();
      }
      return effect();
    },
  };
}

describe('a pass whose state writes lose to another writer', () => {
  it('decides again on what the adapter already said: one status call for the look, one trigger', async () => {
    const { loaded, f, w, clock } = world(5);
    const h = hook(w, 2);
    const lines: string[] = [];
    const result = await runPass(w.ports(clock, h), loaded, {
      followers: [f],
      dryRun: false,
      wait: false,
      identity: 'pass-a',
      shard: 0,
      progress: (l) => lines.push(l),
    });
    expect('outcomes' in result && result.outcomes[0]).toMatchObject({ triggered: true });
    expect(lines.filter((l) => l.includes('state changed under this pass'))).toHaveLength(2);
    expect(h.calls.filter((c) => c.port === 'adapters' && c.method === 'status')).toHaveLength(1);
    expect(w.controlPlane.received).toHaveLength(1);
  });

  it('writes a look in one compare-and-swap; after it lost, followers whose record did not change keep their look', async () => {
    const { loaded, w, clock } = world(5);
    for (const f of loaded.registry.followers) w.mirror.push(f.source.mirror, f.source.branch, shaOf(`tip-${f.id}`));
    const h = hook(w, 1);
    await runPass(w.ports(clock, h), loaded, {
      followers: loaded.registry.followers,
      dryRun: false,
      wait: false,
      identity: 'pass-a',
      shard: 0,
      progress: () => undefined,
    });
    // Another writer touched the ConfigMap (no record changed): the write-aheads of all three are
    // decided again on the same look and the same answers, with no I/O between re-read and write.
    expect(h.calls.filter((c) => c.port === 'mirror' && c.method === 'observe')).toHaveLength(1);
    expect(h.calls.filter((c) => c.port === 'adapters' && c.method === 'status')).toHaveLength(3);
    // The write-aheads (lost once, then written), then the trigger results: three writes, not six.
    expect(h.calls.filter((c) => c.port === 'state' && c.method === 'write')).toHaveLength(3);
    expect(w.controlPlane.received).toHaveLength(3);
  });

  it('waits before each re-read: controller.pass.conflictBackoffMilliseconds doubled per conflict, jittered per pass', async () => {
    const waits = async (identity: string) => {
      const { loaded, f, w, clock, slept } = world(5);
      await runPass(w.ports(clock, hook(w, 3)), loaded, {
        followers: [f],
        dryRun: false,
        wait: false,
        identity,
        shard: 0,
        progress: () => undefined,
      });
      return slept;
    };
    const base = loadedBackoff();
    const a = await waits('pass-a');
    expect(a).toHaveLength(3);
    a.forEach((ms, n) => {
      expect(ms).toBeGreaterThanOrEqual(0.5 * base * 2 ** n);
      expect(ms).toBeLessThanOrEqual(1.5 * base * 2 ** n);
    });
    expect(await waits('pass-a')).toEqual(a);
    expect(await waits('pass-b')).not.toEqual(a);
  });

  it('a write that landed but whose answer was lost (sent again, it conflicts with itself) counts as written', async () => {
    const { loaded, f, w, clock } = world(5);
    const calls: PortCall[] = [];
    let lost = 2; // the write-ahead, then the trigger's result
    const h: CallHook = {
      async around<T>(call: PortCall, effect: () => T) {
        calls.push(call);
        const result = effect();
        if (call.port === 'state' && call.method === 'write' && lost-- > 0)
          throw new BranchFollowerError('update ConfigMap failed (HTTP 409): the object has been modified', {
            reason: 'KubeConflict',
            retryable: true,
          });
        return result;
      },
    };
    const lines: string[] = [];
    const result = await runPass(w.ports(clock, h), loaded, {
      followers: [f],
      dryRun: false,
      wait: false,
      identity: 'pass-a',
      shard: 0,
      progress: (l) => lines.push(l),
    });
    // The trigger went out at once (not after the unconfirmed-send grace) and its run was recorded.
    expect(w.controlPlane.received).toHaveLength(1);
    expect('outcomes' in result && result.outcomes[0]).toMatchObject({
      triggered: true,
      record: { phase: 'ClosingOut' },
    });
    expect(lines.filter((l) => l.includes('state changed under this pass'))).toEqual([]);
    expect(calls.filter((c) => c.port === 'adapters' && c.method === 'status')).toHaveLength(1);
  });

  it('ends, naming controller.pass.conflictRetries, once the conflicts outnumber it, having sent nothing', async () => {
    const { loaded, f, w, clock } = world(2);
    const err = await runPass(w.ports(clock, hook(w, 99)), loaded, {
      followers: [f],
      dryRun: false,
      wait: false,
      identity: 'pass-a',
      shard: 0,
      progress: () => undefined,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BranchFollowerError);
    expect((err as BranchFollowerError).reason).toBe('KubeConflict');
    expect((err as Error).message).toMatch(
      /changed under this pass 3 time\(s\) in a row \(controller\.pass\.conflictRetries: 2\); no trigger was sent/,
    );
    expect(w.controlPlane.received).toHaveLength(0);
  });
});
