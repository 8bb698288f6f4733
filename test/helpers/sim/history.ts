import type { LoadedRegistry } from '../../../core/config/load.ts';
import type { FollowerConfig } from '../../../core/config/schema.ts';
import type { PortCall } from '../../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../../runner/memory/world.ts';
import { runPass, type PassResult } from '../../../runner/pass.ts';
import { followersOfShard, shardIndexes, shardOf } from '../../../core/config/shards.ts';
import { Phase } from '../../../runner/phases.ts';
import { recordsOf } from '../../../runner/state-data.ts';
import type { StateRecord } from '../../../runner/state-record.ts';
import { Rng } from './rng.ts';
import { CALM, Scheduler, type Disturbance, type SimPass } from './scheduler.ts';

// One seeded history of the real pass (runner/pass.ts runPass) on the in-memory ports: CronJob
// passes a minute apart, extra passes that overlap them, dry runs, pushes and runs finishing
// between and during passes, crashes at any await, outages, slow reads, foreign writes of the state
// (409s), failing syncs, observations, statuses, triggers and flushes. Then the faults stop and calm
// passes run until every follower settles. Everything observable is logged for the properties.

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const S = 1000;

/** One trigger the control plane received, with the attempt the sending pass said it sent. */
interface Sent {
  readonly seq: number;
  readonly pass: string;
  readonly followerId: string;
  readonly sha: string;
  readonly attempt: number | undefined;
  /** The simulated time it was received. */
  readonly at: number;
  /** The run it started. */
  readonly run: string;
  /** Runs of the same sha still going in the control plane when it was received (an earlier attempt's). */
  readonly going: readonly string[];
}

/** One state write that landed: every record before and after. */
interface Written {
  readonly seq: number;
  readonly pass: string;
  readonly before: ReadonlyMap<string, StateRecord>;
  readonly after: ReadonlyMap<string, StateRecord>;
}

export interface History {
  readonly seed: number;
  readonly loaded: LoadedRegistry;
  readonly followers: readonly FollowerConfig[];
  readonly world: MemoryWorld;
  readonly passes: readonly SimPass[];
  readonly sent: readonly Sent[];
  readonly written: readonly Written[];
  /** Per follower, every sha ever pushed to its branch, in order (a re-push repeats it). */
  readonly pushed: ReadonlyMap<string, readonly string[]>;
  /** Per follower, every push with its place in the log. */
  readonly pushes: ReadonlyMap<string, readonly { readonly sha: string; readonly seq: number }[]>;
  /** The records once the calm passes are over, and how many could not be read. */
  readonly final: ReadonlyMap<string, StateRecord>;
  readonly unreadable: number;
  /** What happened, in order: world events and every pass's progress lines (printed when a property fails). */
  readonly trace: readonly string[];
  /** Every send, and every write that claims one (a write-ahead), with the Lease as it stood then. */
  readonly acts: readonly Act[];
}

/** One act that needs the Lease: who held it at that moment, and for how much longer. */
interface Act {
  readonly seq: number;
  readonly pass: string;
  readonly what: string;
  readonly holder: string | null;
  readonly leftMs: number;
}

/** The registry of one history: a subset of the shipped followers with seeded budgets and limits. */
function registryOf(base: LoadedRegistry, rng: Rng): LoadedRegistry {
  // Copies of just what a history changes: the rest of the registry is shared, read-only.
  const b = base.registry;
  const c = {
    ...b.controller,
    lease: { ...b.controller.lease },
    pass: { ...b.controller.pass },
    state: { ...b.controller.state },
  };
  const r = {
    ...b,
    controller: c,
    adapters: b.adapters.map((a) => ({ ...a })),
    followers: b.followers.map((f) => ({ ...f, closeout: { ...f.closeout }, retry: { ...f.retry } })),
  };
  const loaded: LoadedRegistry = { ...base, registry: r };
  c.lease.durationSeconds = rng.pick([15, 30, 60]);
  c.lease.renewSeconds = Math.max(1, Math.floor(c.lease.durationSeconds / 3));
  c.pass.conflictRetries = rng.pick([0, 1, 5]);
  c.state.historyLimit = rng.pick([8, 12, 30]);
  c.state.triggeredLimit = rng.pick([3, 5, 50]);
  // Sharded now and then: each shard's pass under its own Lease, records over one or two objects per shard.
  c.pass.shards = rng.pick([1, 1, 2]);
  c.state.objects = c.pass.shards * rng.pick([1, 2]);
  for (const a of r.adapters) {
    // Within the Lease, as the registry requires (timeoutSeconds + renewSeconds <= durationSeconds).
    a.timeoutSeconds = Math.min(rng.pick([5, 30]), c.lease.durationSeconds - c.lease.renewSeconds);
    a.statusLagSeconds = rng.pick([0, 5, 10]);
  }
  const count = rng.int(1, 2);
  const chosen = [...r.followers].sort(() => rng.next() - 0.5).slice(0, count);
  for (const f of chosen) {
    f.closeout.budgetSeconds = rng.pick([60, 120, 240]);
    f.closeout.pollIntervalSeconds = rng.pick([5, 10, 20]);
    f.retry.maxAttempts = rng.int(1, 3);
    f.retry.backoffSeconds = rng.pick([0, 10, 60]);
    const all = ['runSucceeded', 'deployedShaMatches', 'mirrorFlushed', 'githubInSync'] as const;
    const checks = all.filter(() => rng.chance(0.7));
    f.closeout.checks = checks.length > 0 ? checks : ['runSucceeded'];
  }
  r.followers = chosen;
  return loaded;
}

function disturbanceOf(rng: Rng): Disturbance {
  const calm = rng.chance(0.2);
  if (calm) return CALM;
  return {
    crash: rng.pick([0, 0.01, 0.04]),
    outage: rng.pick([0, 0, 0.01]),
    slow: rng.pick([0, 0.05, 0.2]),
    slowMs: rng.pick([5, 40, 90]) * S,
    leaseOutage: rng.pick([0, 0, 0.1]),
  };
}

export async function runHistory(seed: number, base: LoadedRegistry): Promise<History> {
  const rng = new Rng(seed);
  const loaded = registryOf(base, rng);
  const followers = loaded.registry.followers;
  const sched = new Scheduler(rng, T0);
  const world = new MemoryWorld(loaded, () => sched.now);
  const trace: string[] = [];
  const note = (line: string) => trace.push(`${((sched.now - T0) / S).toFixed(1).padStart(7)}s ${line}`);
  const pushed = new Map<string, string[]>(followers.map((f) => [f.id, []]));
  const pushes = new Map<string, { sha: string; seq: number }[]>(followers.map((f) => [f.id, []]));
  const sent: Sent[] = [];
  const acts: Act[] = [];
  const c = loaded.registry.controller;
  // The Lease of the shard that owns a follower (every shard's pass of one launch has one identity).
  const lease = (followerId: string) => {
    const spec = world.leases[shardOf(followerId, c.pass.shards)]!.value ?? {};
    const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
    const left = Number.isNaN(renewed) ? -1 : renewed + (spec.leaseDurationSeconds ?? 0) * 1000 - sched.now;
    return { holder: spec.holderIdentity ?? null, leftMs: left };
  };
  const written: Written[] = [];
  /** Every state object's data as one map: each follower's record is in exactly one of them. */
  const stateData = () => Object.assign({}, ...world.states.map((o) => o.value ?? {})) as Record<string, string>;
  let seq = 0;
  let commits = 0;
  let receipts = 0;
  const texts = new Map<string, StateRecord>();
  const parsed = (text: string) => {
    const known = texts.get(text);
    if (known) return known;
    const r = JSON.parse(text) as StateRecord;
    texts.set(text, r);
    return r;
  };

  // The world at the start: each branch has a commit (or, now and then, does not exist yet), the
  // GitOps ref is published and upstream, and the control plane may already target the tip.
  for (const f of followers) {
    const lane = world.controlPlane.lane(f.id);
    if (rng.chance(0.9)) {
      const sha = shaOf(`${seed}-${commits++}`);
      world.mirror.push(f.source.mirror, f.source.branch, sha);
      pushed.get(f.id)!.push(sha);
      pushes.get(f.id)!.push({ sha, seq: seq++ });
      if (rng.chance(0.5)) lane.targetSha = lane.deployedSha = sha;
    }
    world.mirror.publish(f.id, shaOf(`${seed}-gitops-${f.id}`));
    const ref = world.mirror.view(f.id);
    if (!('error' in ref)) world.mirror.flushOne(f.id, ref.gitops.ref);
  }

  const push = (f: FollowerConfig, again: boolean) => {
    const earlier = pushed.get(f.id)!;
    const sha = again && earlier.length > 0 ? rng.pick(earlier) : shaOf(`${seed}-${commits++}`);
    world.mirror.push(f.source.mirror, f.source.branch, sha);
    earlier.push(sha);
    pushes.get(f.id)!.push({ sha, seq: seq++ });
    note(`push ${f.id} ${sha.slice(0, 12)}${again ? ' (again)' : ''}`);
  };

  const adapterOf = (f: FollowerConfig) => loaded.registry.adapters.find((a) => a.id === f.adapter)!;
  // One change of the world: what happens upstream, in the control plane, or as a fault.
  const event = () => {
    const f = rng.pick(followers);
    const lane = world.controlPlane.lane(f.id);
    const what = rng.int(0, 99);
    if (what < 22) push(f, rng.chance(0.05));
    else if (what < 50) {
      note(`run of ${f.id} succeeds`);
      world.controlPlane.succeed(f.id, rng.chance(0.85));
    } else if (what < 56) {
      note(`run of ${f.id} fails`);
      world.controlPlane.fail(f.id);
    } else if (what < 60) lane.deployedSha = lane.targetSha;
    else if (what < 65) lane.statusFailures += rng.int(1, 3);
    else if (what < 69) {
      lane.triggerFailures += 1;
      lane.startsAnyway = rng.chance(0.5);
    } else if (what < 73) world.mirror.syncFailures += rng.int(1, 2);
    else if (what < 76) world.mirror.observeFailures += 1;
    else if (what < 80) world.mirror.flushFailures += rng.int(1, 2);
    else if (what < 88) {
      note('another writer updates the state');
      rng.pick(world.states).touch();
    } else {
      // The adapter within its declared timing: the command returns within timeoutSeconds and its
      // run shows within statusLagSeconds after that.
      const a = adapterOf(f);
      lane.sendMs = rng.int(0, a.timeoutSeconds) * S;
      lane.lagMs = rng.int(0, a.statusLagSeconds) * S;
    }
  };

  sched.onEffect = (pass: SimPass, call: PortCall) => {
    if (call.port === 'adapters' && call.method === 'trigger') {
      for (const r of world.controlPlane.received.slice(receipts)) {
        acts.push({ seq: seq++, pass: pass.id, what: `trigger of ${r.followerId}`, ...lease(r.followerId) });
        const going = world.controlPlane
          .lane(r.followerId)
          .runs.filter((x) => x.sha === r.sha && x.name !== r.run && (x.phase === 'Pending' || x.phase === 'Running'))
          .map((x) => x.name);
        sent.push({
          seq: seq++,
          pass: pass.id,
          followerId: r.followerId,
          sha: r.sha,
          attempt: pass.sendingAttempt(r.followerId, r.sha),
          at: r.at,
          run: r.run,
          going,
        });
      }
      receipts = world.controlPlane.received.length;
    }
    if (call.port === 'state' && call.method === 'write') {
      // The pass's next read validates every record; the log needs only their content (an
      // unchanged record is parsed once).
      const after = new Map(Object.entries(stateData()).map(([id, text]) => [id, parsed(text)]));
      const before = written.at(-1)?.after ?? new Map<string, StateRecord>();
      written.push({ seq: seq++, pass: pass.id, before, after });
      for (const [id, r] of after) {
        const claimed = r.inFlight?.sentAt;
        if (claimed !== undefined && claimed !== before.get(id)?.inFlight?.sentAt)
          acts.push({ seq: seq++, pass: pass.id, what: `write-ahead of ${id}`, ...lease(id) });
      }
    }
  };

  const launch = (
    id: string,
    at: number,
    o: { dryRun: boolean; wait: boolean; disturbance: Disturbance; window?: { untilMs: number; intervalMs: number } },
  ) =>
    sched.launch(id, at, o.dryRun, o.disturbance, async (p) => {
      // One launch is one pass of every shard, side by side, as run-once --all runs them.
      const results = await Promise.all(
        shardIndexes(c).map((k) =>
          runPass(world.ports(p, p, k), loaded, {
            followers: followersOfShard(followers, c.pass.shards, k),
            dryRun: o.dryRun,
            wait: o.wait,
            ...(o.window ? { window: o.window } : {}),
            identity: id,
            shard: k,
            progress: (line) => {
              p.lines.push(line);
              note(`${id}: ${c.pass.shards > 1 ? `[shard ${k}] ` : ''}${line}`);
            },
          }),
        ),
      );
      const acted = results.filter((r): r is Exclude<PassResult, { skipped: unknown }> => !('skipped' in r));
      if (acted.length === 0) return results[0]!;
      return { outcomes: acted.flatMap((r) => r.outcomes), failed: acted.some((r) => r.failed) };
    });

  // The chaos: a CronJob pass a minute, more passes overlapping them, dry runs, world events.
  const disturbance = disturbanceOf(rng);
  const minutes = rng.int(3, 8);
  for (let m = 0; m < minutes; m++) {
    const at = T0 + m * 60 * S + rng.int(0, 5) * S;
    // Half the CronJob passes keep a watch window open, as controller.pass.watchWindow does: looks every
    // 5 s until 10 s before the next tick.
    const window = rng.chance(0.5) ? { untilMs: T0 + (m * 60 + 50) * S, intervalMs: 5 * S } : undefined;
    launch(`cron-${m}`, at, { dryRun: false, wait: rng.chance(0.7), disturbance, ...(window ? { window } : {}) });
    if (rng.chance(0.35))
      launch(`now-${m}`, at + rng.int(0, 50) * S, { dryRun: false, wait: rng.chance(0.5), disturbance });
    if (rng.chance(0.25)) launch(`dry-${m}`, at + rng.int(0, 59) * S, { dryRun: true, wait: false, disturbance });
  }
  const events = rng.int(4, 20);
  for (let i = 0; i < events; i++) sched.at({ at: T0 + rng.int(0, minutes * 60) * S, run: event });
  const during = rng.pick([0, 0.02, 0.08]);
  sched.between = () => {
    if (rng.chance(during)) event();
  };
  await sched.run(20_000);

  // The faults stop: a healthy world, runs finish, calm passes until every follower settles.
  sched.between = () => undefined;
  world.mirror.syncFailures = world.mirror.observeFailures = world.mirror.flushFailures = 0;
  for (const f of followers) {
    const lane = world.controlPlane.lane(f.id);
    lane.statusFailures = lane.triggerFailures = lane.sendMs = lane.lagMs = 0;
    for (const r of lane.runs) r.visibleAt = Math.min(r.visibleAt, sched.now);
  }
  note('faults stop');
  const settleMs =
    Math.max(
      loaded.registry.controller.lease.durationSeconds,
      ...loaded.registry.adapters.map((a) => a.timeoutSeconds + a.statusLagSeconds),
      ...followers.map((f) => f.retry.backoffSeconds),
    ) *
      S +
    S;
  for (let i = 0; i < 8; i++) {
    sched.now += settleMs;
    for (const f of followers) {
      world.controlPlane.succeed(f.id);
      world.controlPlane.lane(f.id).deployedSha = world.controlPlane.lane(f.id).targetSha;
    }
    launch(`calm-${i}`, sched.now, { dryRun: false, wait: false, disturbance: CALM });
    await sched.run(2_000);
    const records = recordsOf(stateData()).records;
    if (followers.every((f) => settled(records.get(f.id), f))) break;
  }
  const { records: final, unreadable } = recordsOf(stateData());
  if (unreadable.size > 0) trace.push(`unreadable records at the end: ${[...unreadable].join('; ')}`);
  return {
    seed,
    loaded,
    followers,
    world,
    passes: sched.passes,
    sent,
    written,
    pushed,
    pushes,
    final,
    unreadable: unreadable.size,
    trace,
    acts,
  };
}

/**
 * Whether a follower's record is final: its tip closed out (Succeeded, or Observed after it), nothing to do, or failed
 * past its retries.
 */
export function settled(r: StateRecord | undefined, f: FollowerConfig): boolean {
  if (!r) return false;
  if (r.phase === Phase.Succeeded || r.phase === Phase.Noop || r.lastSucceededSha === r.observedSha) return true;
  return (
    r.phase === Phase.Failed &&
    r.attempts !== null &&
    r.attempts.sha === r.observedSha &&
    r.attempts.count >= f.retry.maxAttempts
  );
}
