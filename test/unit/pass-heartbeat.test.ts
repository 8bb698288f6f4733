import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import type { CallHook, PortCall } from '../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import { runPass } from '../../runner/pass.ts';

// The real pass on the in-memory ports, following a closeout with --wait: while it sleeps between
// looks, it prints a heartbeat whenever it printed nothing for controller.progress.heartbeatSeconds.

const ROOT = join(import.meta.dirname, '../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);

describe('a pass that waits for closeout', () => {
  it('prints a heartbeat with each in-flight follower and how long of its budget, never silent for longer', async () => {
    const id = 'agentrun-jd01-v02';
    const index = base.registry.followers.findIndex((f) => f.id === id);
    // Looks 25 s apart, a heartbeat every 10 s: the pass must speak between its looks.
    const followers = base.registry.followers.map((f) =>
      f.id === id ? { ...f, closeout: { ...f.closeout, pollIntervalSeconds: 25 } } : f,
    );
    const loaded = {
      ...base,
      registry: {
        ...base.registry,
        followers,
        controller: { ...base.registry.controller, progress: { heartbeatSeconds: 10 } },
      },
    };
    const f = followers[index]!;
    let t = Date.parse('2026-01-01T00:00:00.000Z');
    const start = t;
    const clock = {
      now: () => t,
      sleep: async (ms: number, signal?: AbortSignal) => {
        if (signal) return new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        t += ms;
      },
    };
    const w = new MemoryWorld(loaded, clock.now);
    w.mirror.push(f.source.mirror, f.source.branch, shaOf('tip'));
    // The run succeeds once 60 s have passed.
    const hook: CallHook = {
      async around<T>(call: PortCall, effect: () => T) {
        if (call.port === 'adapters' && call.method === 'status' && t - start >= 60_000) w.controlPlane.succeed(id);
        return effect();
      },
    };
    const lines: { at: number; line: string }[] = [];
    const result = await runPass(w.ports(clock, hook), loaded, {
      followers: [f],
      dryRun: false,
      wait: true,
      identity: 'pass-a',
      shard: 0,
      progress: (line) => lines.push({ at: t - start, line }),
    });
    expect('outcomes' in result && result.outcomes[0]).toMatchObject({ reason: 'ClosedOut' });
    expect(w.controlPlane.received).toHaveLength(1);
    const beats = lines.filter((l) => l.line.startsWith('still waiting for closeout'));
    expect(beats.length).toBeGreaterThanOrEqual(4);
    expect(beats[0]!.line).toBe(
      `still waiting for closeout of 1 follower(s): ${id} (ClosingOut, 10s of ${f.closeout.budgetSeconds}s ` +
        `(followers[${index}].closeout.budgetSeconds))`,
    );
    // Never more than the heartbeat between two lines while the pass waited.
    const ats = lines.map((l) => l.at);
    for (let i = 1; i < ats.length; i++) expect(ats[i]! - ats[i - 1]!).toBeLessThanOrEqual(10_000);
  });
});
