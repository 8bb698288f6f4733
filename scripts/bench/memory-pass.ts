import { createHash } from 'node:crypto';
import { realClock } from '../../core/clock.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { followersOfShard, shardIndexes } from '../../core/config/shards.ts';
import type { CallHook, PortCall } from '../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import { runPass } from '../../runner/pass.ts';
import { dataBytes } from '../../runner/state-data.ts';

// One reconcile pass of the real runPass on the in-memory ports (instant adapters, no git, no API
// server), and the baseline it is read against in the same run: the least a pass over these
// followers must do, one mirror look and one adapter status per follower, on the same ports.

export interface PassFigures {
  readonly wallMs: number;
  /** What the pass ended with: ok, or its error in one line. */
  readonly end: string;
  readonly triggers: number;
  readonly stateWrites: number;
  readonly stateBytesWritten: number;
  /** The state ConfigMap's data at its largest (what controller.state.maxBytes bounds). */
  readonly largestObjectBytes: number;
  readonly portCalls: number;
}

/** Counts every port call, and the bytes of the state after each state write. */
function counting(world: MemoryWorld) {
  const seen = { calls: 0, writes: 0, bytes: 0, largest: 0 };
  // A write replaces the data of the objects it changes: each data map is sized once, so the count
  // costs the bench the objects a write changed, not every object of every shard per write.
  const sized = new WeakMap<object, number>();
  const bytesOf = (data: Readonly<Record<string, string>>) => {
    const known = sized.get(data);
    if (known !== undefined) return known;
    const b = dataBytes(data);
    sized.set(data, b);
    return b;
  };
  const hook: CallHook = {
    async around<T>(call: PortCall, effect: () => T) {
      seen.calls++;
      const result = effect();
      if (call.port === 'state' && call.method === 'write') {
        // As the store counts it against controller.state.maxBytes: every object the write may have changed.
        const b = Math.max(...world.states.map((s) => bytesOf(s.value ?? {})));
        seen.writes++;
        seen.bytes += b;
        seen.largest = Math.max(seen.largest, b);
      }
      return result;
    },
  };
  return { seen, hook };
}

/** A world whose every follower has a tip; with `upToDate` the control plane already targets it. */
function worldOf(loaded: LoadedRegistry, upToDate: boolean): MemoryWorld {
  const world = new MemoryWorld(loaded, () => Date.now());
  for (const f of loaded.registry.followers) {
    const sha = shaOf(`bench-${f.id}`);
    world.mirror.push(f.source.mirror, f.source.branch, sha);
    world.mirror.publish(f.id, shaOf(`bench-gitops-${f.id}`));
    const view = world.mirror.view(f.id);
    if (!('error' in view)) world.mirror.flushOne(f.id, view.gitops.ref);
    if (upToDate) {
      const lane = world.controlPlane.lane(f.id);
      lane.targetSha = lane.deployedSha = sha;
    }
  }
  return world;
}

/** One confirmed pass of every shard, side by side, as run-once --all runs them. */
async function allShards(loaded: LoadedRegistry, world: MemoryWorld, hook: CallHook, identity: string) {
  const c = loaded.registry.controller;
  const results = await Promise.all(
    shardIndexes(c).map((k) =>
      runPass(world.ports(realClock, hook, k), loaded, {
        followers: followersOfShard(loaded.registry.followers, c.pass.shards, k),
        dryRun: false,
        wait: false,
        identity,
        shard: k,
        progress: () => undefined,
      }),
    ),
  );
  return results.some((r) => 'skipped' in r) ? 'skipped' : 'ok';
}

/**
 * One confirmed pass over every follower. `upToDate` false is "every follower new" (the first pass, every
 * tip to trigger); true is "nothing new": the pass after one that recorded every follower up to date.
 */
export async function passFigures(loaded: LoadedRegistry, upToDate: boolean): Promise<PassFigures> {
  const world = worldOf(loaded, upToDate);
  const identity = `bench-${createHash('sha1').update(String(performance.now())).digest('hex').slice(0, 8)}`;
  let end = 'ok';
  if (upToDate) {
    try {
      await allShards(loaded, world, { around: async (_c, effect) => effect() }, identity);
    } catch (err) {
      end = `error in the pass before: ${(err as Error).message.split('\n')[0]!.slice(0, 140)}`;
    }
  }
  const { seen, hook } = counting(world);
  const started = performance.now();
  try {
    if (end === 'ok') end = await allShards(loaded, world, hook, identity);
  } catch (err) {
    end = `error: ${(err as Error).message.split('\n')[0]!.slice(0, 140)}`;
  }
  return {
    wallMs: performance.now() - started,
    end,
    triggers: world.controlPlane.received.length,
    stateWrites: seen.writes,
    stateBytesWritten: seen.bytes,
    largestObjectBytes: seen.largest,
    portCalls: seen.calls,
  };
}

/**
 * The world as one confirmed pass over every follower leaves it (every tip new: each follower triggered,
 * its record in flight), for what reads the records afterwards (`status`).
 */
export async function worldAfterPass(loaded: LoadedRegistry): Promise<MemoryWorld> {
  const world = worldOf(loaded, false);
  const end = await allShards(loaded, world, { around: async (_c, effect) => effect() }, 'bench-status');
  if (end !== 'ok') throw new Error(`the in-memory pass ended ${end}`);
  return world;
}

/** The baseline: one mirror look and one adapter status per follower, nothing decided or written. */
export async function baselineMs(loaded: LoadedRegistry): Promise<number> {
  const world = worldOf(loaded, true);
  const ports = world.ports(realClock);
  const started = performance.now();
  for (const f of loaded.registry.followers) {
    const view = (await ports.mirror.observe([f])).get(f.id);
    if (view && !('error' in view) && view.tip) await ports.adapters.status(f, view.tip, view.snapshotRef);
  }
  return performance.now() - started;
}
