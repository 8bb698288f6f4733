import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import type { CallHook, PortCall } from '../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import { runPass } from '../../runner/pass.ts';
import type { PassPorts } from '../../runner/ports.ts';

// The real pass on the in-memory ports with a watch window: its work done, it looks again every
// interval until the window ends; a tip that moved meanwhile is triggered in the same pass, exactly
// once, and only the followers whose tip moved are asked anything.

const ROOT = join(import.meta.dirname, '../..');
const loaded = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const followers = loaded.registry.followers;

function world() {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  const clock = {
    now: () => t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal) return new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      t += ms;
    },
  };
  const w = new MemoryWorld(loaded, clock.now);
  for (const f of followers) w.mirror.push(f.source.mirror, f.source.branch, shaOf(`first-${f.id}`));
  // Every run succeeds as soon as the pass asks about it.
  const hook: CallHook = {
    async around<T>(call: PortCall, effect: () => T) {
      if (call.port === 'adapters' && call.method === 'status') for (const f of followers) w.controlPlane.succeed(f.id);
      return effect();
    },
  };
  const asked: { id: string; at: number }[] = [];
  const ports = (): PassPorts => {
    const p = w.ports(clock, hook);
    return {
      ...p,
      adapters: {
        status: (f, sha, ref) => {
          asked.push({ id: f.id, at: t });
          return p.adapters.status(f, sha, ref);
        },
        trigger: (f, sha, ref) => p.adapters.trigger(f, sha, ref),
      },
    };
  };
  return { w, clock, now: () => t, ports, asked };
}

const opts = (progress: (l: string) => void) => ({
  followers,
  dryRun: false,
  identity: 'pass-a',
  shard: 0,
  progress,
});

describe('a pass with a watch window', () => {
  it('triggers a tip pushed during the window once, asking only about the follower that moved', async () => {
    const { w, now, ports, asked } = world();
    // A first pass triggers every follower and follows each to closeout.
    await runPass(ports(), loaded, { ...opts(() => undefined), wait: true });
    expect(w.controlPlane.received).toHaveLength(followers.length);

    const start = now();
    const moved = followers[1]!;
    const lines: string[] = [];
    let pushed = false;
    const p = ports();
    const mirror = p.mirror;
    const windowed: PassPorts = {
      ...p,
      mirror: {
        ...mirror,
        syncThenObserve: (...args) => {
          if (!pushed && now() - start >= 12_000) {
            pushed = true;
            w.mirror.push(moved.source.mirror, moved.source.branch, shaOf('second'));
          }
          return mirror.syncThenObserve(...args);
        },
      },
    };
    asked.length = 0;
    const result = await runPass(windowed, loaded, {
      ...opts((l) => lines.push(l)),
      wait: false,
      window: { untilMs: start + 30_000, intervalMs: 5000 },
    });
    expect('outcomes' in result && result.failed).toBe(false);
    expect(pushed).toBe(true);
    // One more trigger, of the pushed sha, by the follower that moved.
    const triggers = w.controlPlane.received.slice(followers.length);
    expect(triggers.map((r) => [r.followerId, r.sha])).toEqual([[moved.id, shaOf('second')]]);
    // After the first look, only the follower that moved was asked anything.
    const later = asked.filter((a) => a.at > start);
    expect(later.length).toBeGreaterThan(0);
    expect(new Set(later.map((a) => a.id))).toEqual(new Set([moved.id]));
    // The window ends when a look no longer fits before its end.
    expect(now() - start).toBeLessThanOrEqual(30_000);
    expect(now() - start).toBeGreaterThanOrEqual(25_000);
  });

  it("paces its looks by the upstream's reads: a flush's two make the next two looks pass its mirror by", async () => {
    const { w, now, ports } = world();
    await runPass(ports(), loaded, { ...opts(() => undefined), wait: true });
    const start = now();
    const moved = followers[1]!;
    const m = moved.source.mirror;
    const p = ports();
    const before = p.mirror.upstreamReads(m);
    const reads = () => p.mirror.upstreamReads(m) - before;
    // Per look: whether it read the moved follower's upstream, and the reads before it.
    const looks: { synced: boolean; readsBefore: number }[] = [];
    let pushed = false;
    const windowed: PassPorts = {
      ...p,
      mirror: {
        ...p.mirror,
        syncThenObserve: (mirrorIds, ...rest) => {
          if (!pushed && now() - start >= 12_000) {
            pushed = true;
            w.mirror.push(m, moved.source.branch, shaOf('paced'));
          }
          looks.push({ synced: mirrorIds.includes(m), readsBefore: reads() });
          return p.mirror.syncThenObserve(mirrorIds, ...rest);
        },
      },
    };
    const result = await runPass(windowed, loaded, {
      ...opts(() => undefined),
      wait: false,
      window: { untilMs: start + 60_000, intervalMs: 5000 },
    });
    expect('outcomes' in result && result.failed).toBe(false);
    // The pushed sha was triggered once, followed to closeout and flushed: two reads of its upstream.
    const triggers = w.controlPlane.received.filter((r) => r.sha === shaOf('paced'));
    expect(triggers.map((r) => r.followerId)).toEqual([moved.id]);
    const flushedAt = looks.findIndex((l, i) => i > 0 && l.readsBefore >= looks[i - 1]!.readsBefore + 2);
    expect(flushedAt).toBeGreaterThan(0);
    // The two looks after the flush passed the mirror by; the ones after it read it again.
    expect(looks.slice(flushedAt, flushedAt + 2).map((l) => l.synced)).toEqual([false, false]);
    expect(looks.slice(flushedAt + 2).every((l) => l.synced)).toBe(true);
    expect(looks.length).toBeGreaterThan(flushedAt + 2);
    // Over the pass the upstream was read no more often than the pass looked.
    expect(reads()).toBeLessThanOrEqual(looks.length);
    expect(reads()).toBeGreaterThanOrEqual(looks.length - 1);
  });

  it('ends at once without a window, as before', async () => {
    const { now, ports } = world();
    const start = now();
    await runPass(ports(), loaded, { ...opts(() => undefined), wait: false });
    expect(now()).toBe(start);
  });
});
