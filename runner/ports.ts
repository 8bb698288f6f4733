import type { Clock } from '../core/clock.ts';
import type { FollowerConfig } from '../core/config/schema.ts';
import type { AdapterStatus } from './adapters/contract.ts';
import type { MirrorView } from './state-machine.ts';
import type { StateRecord, Transition } from './state-record.ts';

// Everything the pass reads or writes outside its own memory, as small ports. The pass knows only
// these interfaces: the Kubernetes implementations live in runner/kube/, git and the adapter
// commands in runner/process-ports.ts, and in-memory ones (for the simulation test and the
// benchmark) in runner/memory/, each held to the same contract test as its real counterpart.

/** The state records as read: what the next write compares against. */
export interface StateSnapshot {
  readonly records: ReadonlyMap<string, StateRecord>;
  /** Keys whose value could not be read, with why (shown by status, never overwritten silently). */
  readonly unreadable: ReadonlyMap<string, string>;
  /** Opaque to the pass: what the store needs for its compare-and-swap (e.g. the object and its resourceVersion). */
  readonly base: unknown;
}

/** The state records of every follower, written by compare-and-swap. */
export interface StatePort {
  /** The current records; a store that does not exist is an error naming the way out. */
  read(): Promise<StateSnapshot>;
  /**
   * Writes `updates` (`null` removes a record) onto the snapshot it was read as. If anyone wrote in
   * between, it rejects with a BranchFollowerError of reason `KubeConflict` and writes nothing; a write
   * over `controller.state.maxBytes` is refused (reason `KubeFailed`) and writes nothing.
   */
  write(snap: StateSnapshot, updates: ReadonlyMap<string, StateRecord | null>): Promise<StateSnapshot>;
}

/** The Lease as held by this pass (opaque: what the Lease port needs to renew and release it). */
export interface HeldLease {
  readonly holder: string;
  readonly base: unknown;
}

export type LeaseResult =
  | { acquired: true; lease: HeldLease }
  | { acquired: false; holder: string; renewedAgoMs: number };

/** The one Lease that keeps two passes from acting at once. */
export interface LeasePort {
  /** Takes the Lease unless another live holder has it; of two racing takers exactly one wins. */
  acquire(identity: string): Promise<LeaseResult>;
  /** Renews a held Lease; rejects (reason `KubeConflict`) when someone else took it meanwhile. */
  renew(lease: HeldLease): Promise<HeldLease>;
  /** Gives it up so the next pass need not wait for it to expire. */
  release(lease: HeldLease): Promise<void>;
}

/** One Event per phase transition (best effort: a failure here is a warning, never a lost record). */
export interface EventPort {
  emit(followerId: string, transitions: readonly Transition[], instance: string): Promise<void>;
}

type SyncOutcome = { summary: string } | { error: string };
type FlushOutcome = { ok: boolean; summary: string } | { error: string };

/** One follower's GitOps ref to flush (the ref its run published into the follower's mirror). */
export interface FlushWanted {
  readonly follower: FollowerConfig;
  readonly ref: string;
}

/** The wanted flushes grouped by the followers' mirror, in order: what one flush of each mirror takes. */
export function byMirror(wanted: readonly FlushWanted[]): Map<string, FlushWanted[]> {
  const out = new Map<string, FlushWanted[]>();
  for (const w of wanted) {
    const ws = out.get(w.follower.source.mirror);
    if (ws) ws.push(w);
    else out.set(w.follower.source.mirror, [w]);
  }
  return out;
}

/** The git mirror cache: sync it from the upstream, look at it, flush a GitOps ref back upstream. */
export interface MirrorPort {
  /**
   * git-mirror sync of each mirror: the declared branches into the cache, a snapshot per tip; a line per mirror, or its
   * error.
   */
  sync(mirrorIds: readonly string[]): Promise<ReadonlyMap<string, SyncOutcome>>;
  /** One look at every mirror cache: per follower, the branch tip, its snapshot ref and the GitOps ref. */
  observe(followers: readonly FollowerConfig[]): Promise<ReadonlyMap<string, MirrorView>>;
  /**
   * `sync(mirrorIds)`, then `observe(followers)` after it: the same answers. A mirror whose sync finds nothing to do
   * may be looked at through the read the sync made of it as served, rather than read once more. `early`, when given,
   * is told views as soon as they are known (before the other mirrors' syncs end): each is the one returned, and a
   * follower whose mirror's sync failed is never among them.
   */
  syncThenObserve(
    mirrorIds: readonly string[],
    followers: readonly FollowerConfig[],
    early?: (views: ReadonlyMap<string, MirrorView>) => void,
    /**
     * Epoch ms: a sync of a mirror that this port started at or after it (for any caller, e.g. another shard's pass
     * in the same process) may stand for this call's sync of that mirror. Without it every mirror is synced anew.
     */
    notBefore?: number,
  ): Promise<{ synced: ReadonlyMap<string, SyncOutcome>; views: ReadonlyMap<string, MirrorView> }>;
  /**
   * git-mirror flush of the followers' GitOps refs, each mirror's refs together: fast-forward upstream, recheck; per
   * follower a summary line, or its error (a ref refused fails only the followers of that ref).
   */
  flush(wanted: readonly FlushWanted[]): Promise<ReadonlyMap<string, FlushOutcome>>;
  /**
   * Whether the mirror cache of `mirrorId` holds `ancestor` as `descendant` itself or one of its ancestors (false when
   * it does not hold `ancestor` at all); undefined when there is no mirror cache here to ask (e.g. `status` on a
   * workstation, which reads the mirror only as served). Reads only.
   */
  isAncestor(mirrorId: string, ancestor: string, descendant: string): Promise<boolean | undefined>;
  /**
   * How many times this port has read the upstream of `mirrorId` since it was made: each git ls-remote of it (a
   * sync's one, a flush's plan and its recheck when it pushed; observe and isAncestor read only the mirror). The watch
   * window paces its looks by it (runner/window-pacing.ts).
   */
  upstreamReads(mirrorId: string): number;
}

type StatusOutcome = { status: AdapterStatus; tail: string } | { error: string; tail: string };
type TriggerOutcome = { runName: string; tail: string } | { error: string; tail: string };

/** The deployment control plane, through the adapter commands the registry declares. */
export interface AdapterPort {
  status(f: FollowerConfig, sha: string, snapshotRef: string): Promise<StatusOutcome>;
  /** Sends the trigger of `sha`: called only after its write-ahead record is persisted. */
  trigger(f: FollowerConfig, sha: string, snapshotRef: string): Promise<TriggerOutcome>;
}

/** The records of the layout before shards (one state object for every follower), carried into the shards once. */
export interface CarryOverPort {
  /** The old object's records while it still exists (read only: what a dry run decides on). */
  peek(): Promise<ReadonlyMap<string, StateRecord> | undefined>;
  /**
   * Moves every record of the old object into its shard's state, under the old layout's Lease, then deletes the old
   * object; `none` when there is none, `busy` when another live holder has that Lease (see runner/carry-over.ts).
   */
  carry(identity: string): Promise<
    | { none: true }
    | { carried: number }
    | { busy: { holder: string; renewedAgoMs: number } }
    /** The records are kept in another layout (shards and objects) than the registry's: the pass must not act. */
    | { layoutChanged: { from: string; to: string } }
  >;
}

/** Everything the pass talks to. */
export interface PassPorts {
  readonly state: StatePort;
  readonly lease: LeasePort;
  readonly events: EventPort;
  readonly mirror: MirrorPort;
  readonly adapters: AdapterPort;
  /** The upgrade from the single state object; absent where there never was one (e.g. a simulation). */
  readonly carryOver?: CarryOverPort;
  /** Time, so that a simulation can run hours of passes in milliseconds. */
  readonly clock: Clock;
}
