import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { LoadedRegistry } from '../core/config/load.ts';
import type { FollowerConfig } from '../core/config/schema.ts';
import { shardLeaseName, stateObjectName, stateObjectsOfShard } from '../core/config/shards.ts';
import { BranchFollowerError } from '../core/errors.ts';
import { elapsedOf, firstFew, Heartbeat } from '../core/heartbeat.ts';
import { LeaseKeeper, LeaseLost } from './lease-keeper.ts';
import { limiter, type Limiter, mapLimit } from './limit.ts';
import { Decision, Phase, Reason } from './phases.ts';
import type { AdapterPort, HeldLease, PassPorts, StateSnapshot } from './ports.ts';
import {
  afterTrigger,
  runJustSucceeded,
  settled,
  step,
  type MirrorView,
  type Policy,
  type Step,
  type StatusView,
} from './state-machine.ts';
import type { StateRecord, Transition } from './state-record.ts';
import { pacedMirrors } from './window-pacing.ts';

// The reconcile pass of one shard, as Flux's reconcilers run theirs: small steps in a fixed order,
// each saying what it reads and writes —
//   acquireLease → (readState → sync → observe → decide → writeAhead → trigger → writeState → emitEvents)*
// — repeated while --wait follows closeout, under a Lease renewed in the background and checked
// before every write-ahead and trigger (runner/lease-keeper.ts). A look decides every follower of the
// shard (adapter calls side by side, `controller.pass.concurrency.adapterCalls` at most), then writes
// every record that changed in ONE compare-and-swap of the shard's state, and only then sends the
// triggers whose write-ahead that write persisted; their results are written in one more. Every
// decision comes from the pure state machine; this file only moves data between it and the ports
// (runner/ports.ts): state, Lease, Events, mirror, adapters and clock. It imports no Kubernetes
// client, no git and no process.

export interface PassOptions {
  readonly followers: readonly FollowerConfig[];
  readonly dryRun: boolean;
  readonly wait: boolean;
  /** Who this pass is, as the Lease holder and the Events' reporting instance. */
  readonly identity: string;
  /** The shard this pass is (its Lease and state ConfigMap are named after it, in messages). */
  readonly shard: number;
  /** One line of progress for people (stderr). */
  readonly progress: (line: string) => void;
  /**
   * The watch window (controller.pass.watchWindow) of a confirmed scheduled pass: its work done, the pass looks
   * again every `intervalMs` while a look still fits before `untilMs` (epoch ms). A look in the window handles only
   * the followers whose tip moved since the pass last looked, and follows those it left pending or in flight until
   * they settle (with --wait, also every follower still in flight).
   */
  readonly window?: { readonly untilMs: number; readonly intervalMs: number };
}

/** What the pass ended with, per follower. */
export interface FollowerOutcome {
  readonly id: string;
  readonly decision: Decision;
  readonly reason: Reason;
  readonly message: string;
  readonly record: StateRecord | undefined;
  /** Whether a trigger command ran for this follower in this pass. */
  readonly triggered: boolean;
}

/**
 * Skipped (another live pass holds the Lease), or what happened; `failed` when any follower failed or was blocked by an
 * error.
 */
export type PassResult =
  | { skipped: { holder: string; renewedAgoMs: number } }
  | {
      outcomes: FollowerOutcome[];
      failed: boolean;
      /** Another pass took the Lease over while this one acted: it stopped there (outcomes holds what it did). */
      leaseLost?: { holder: string; renewedAgoMs: number };
    };

/** The state machine's view of a follower's registry entry. */
function policyOf(f: FollowerConfig, loaded: LoadedRegistry): Policy {
  const s = loaded.registry.controller.state;
  const adapter = loaded.registry.adapters.find((a) => a.id === f.adapter)!;
  return {
    enabled: f.enabled,
    budgetMs: f.closeout.budgetSeconds * 1000,
    maxAttempts: f.retry.maxAttempts,
    backoffMs: f.retry.backoffSeconds * 1000,
    checks: f.closeout.checks,
    historyLimit: s.historyLimit,
    triggeredLimit: s.triggeredLimit,
    unconfirmedGraceMs: (adapter.timeoutSeconds + adapter.statusLagSeconds) * 1000,
    statusLagMs: adapter.statusLagSeconds * 1000,
  };
}

/** Reasons that mean something is wrong (the pass exits non-zero), not merely nothing to do. */
const ERROR_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  Reason.MirrorUnreachable,
  Reason.MirrorSyncFailed,
  Reason.AdapterStatusFailed,
  Reason.BranchMissing,
  Reason.RetryBudgetExhausted,
  Reason.RecordUnreadable,
]);

const inFlight = (r: StateRecord | undefined) => r?.phase === Phase.Triggering || r?.phase === Phase.ClosingOut;
/** A write-ahead whose send no adapter answer has confirmed yet. */
const unconfirmed = (r: StateRecord | undefined) =>
  r?.phase === Phase.Triggering &&
  r.inFlight !== null &&
  r.inFlight.runName === null &&
  r.inFlight.triggeredAt === null;
/** A lost compare-and-swap: someone wrote the state (or the Lease) since it was read. */
const isConflict = (err: unknown) => err instanceof BranchFollowerError && err.reason === 'KubeConflict';
const sameExceptTime = (a: StateRecord | undefined, b: StateRecord) =>
  a !== undefined && isDeepStrictEqual({ ...a, updatedAt: '' }, { ...b, updatedAt: '' });
const NO_LOOK: MirrorView = { error: 'no observation' };

/** What the adapter said in a look, of which tip, paired with the record it was asked for. */
interface Said {
  readonly tip: string;
  readonly status: StatusView;
  readonly record: StateRecord | undefined;
}

/** A status call started as its follower's look arrived: what it was about, and its answer. */
interface EarlyStatus {
  readonly tip: string;
  readonly snapshotRef: string;
  /** The state read it was asked on, and the follower's record in it. */
  readonly reads: number;
  readonly record: StateRecord | undefined;
  readonly answer: ReturnType<AdapterPort['status']>;
}

/** One follower in a look: what it was decided on, and the decision. */
interface Decided {
  readonly f: FollowerConfig;
  readonly policy: Policy;
  /** Whether this look already flushed its GitOps ref (one flush per look). */
  readonly flushed: boolean;
  view: MirrorView;
  /** How many state reads had been made when `view` was observed. */
  observedAt: number;
  said: Said | undefined;
  /** The record the step was decided on (undefined before the first decision). */
  prev: StateRecord | undefined;
  decidedOnce: boolean;
  s: Step | undefined;
  /** Set when the follower cannot be decided at all (its record is unreadable). */
  blocked: FollowerOutcome | undefined;
}

/** A sent trigger, and its result as it goes onto the write-ahead. */
interface Sent {
  readonly d: Decided;
  readonly result: { runName: string } | { error: string };
  /** The record the result goes onto: the write-ahead, or its newer version after a conflict. */
  base: StateRecord;
  after: { next: StateRecord; transitions: readonly Transition[] } | undefined;
  done: boolean;
}

class Pass {
  private snap!: StateSnapshot;
  /**
   * How many times this pass has read the state: an observation made before the latest read may be older than a record
   * in it.
   */
  private reads = 0;
  private readonly tails = new Map<string, { status: string; trigger: string }>();
  /** Every adapter call of the pass, wherever it is made, within controller.pass.concurrency.adapterCalls. */
  private readonly asking: Limiter;
  /** Status calls started as a follower's look arrived (see early()), by follower id, for the decide that follows. */
  private readonly asked = new Map<string, EarlyStatus>();
  /** Followers that failed (or were blocked by an error) at any time during this pass. */
  private readonly failed = new Set<string>();
  private readonly c: LoadedRegistry['registry']['controller'];
  private ports: PassPorts;
  private readonly loaded: LoadedRegistry;
  private readonly opts: PassOptions;
  /** The Lease while this (confirmed) pass holds it. */
  private keeper: LeaseKeeper | undefined;

  /** While --wait follows closeout: a line whenever the pass printed nothing for progress.heartbeatSeconds. */
  private readonly heartbeat: Heartbeat;

  constructor(ports: PassPorts, loaded: LoadedRegistry, opts: PassOptions) {
    this.ports = ports;
    this.loaded = loaded;
    this.c = loaded.registry.controller;
    const print = opts.progress;
    this.heartbeat = new Heartbeat(ports.clock, this.c.progress.heartbeatSeconds * 1000, print);
    // Every line the pass prints puts the next heartbeat off.
    this.opts = {
      ...opts,
      progress: (line) => {
        this.heartbeat.beat();
        print(line);
      },
    };
    this.asking = limiter(this.c.pass.concurrency.adapterCalls);
  }

  /** The heartbeat of the watch window: no tip moved, and until when it looks. */
  private windowLine(untilMs: number): string {
    const left = Math.max(0, Math.round((untilMs - this.ports.clock.now()) / 1000));
    return `watch window: no tip moved; looking every ${this.c.pass.watchWindow.intervalSeconds}s for ${left}s more (controller.pass.watchWindow)`;
  }

  /** The heartbeat of the closeout wait: every follower still in flight, how long of its budget. */
  private waitingLine(waiting: readonly FollowerConfig[]): string {
    const now = this.ports.clock.now();
    const each = waiting.map((f) => {
      const r = this.snap.records.get(f.id);
      const i = this.loaded.registry.followers.findIndex((x) => x.id === f.id);
      const path = `followers[${i}].closeout.budgetSeconds`;
      if (!r?.inFlight) return `${f.id} (${r?.phase ?? 'unknown'})`;
      const started = Date.parse(r.inFlight.startedAt);
      const budget = { ms: Date.parse(r.inFlight.deadline) - started, path };
      return `${f.id} (${r.phase}, ${elapsedOf(now - started, budget)})`;
    });
    return `still waiting for closeout of ${waiting.length} follower(s): ${firstFew(each)}`;
  }

  /** Before acting: the Lease must cover the next `needMs` (see runner/lease-keeper.ts). */
  private async keep(needMs: number): Promise<void> {
    await this.keeper?.check(needMs);
  }

  /** A trigger command may run this long: the Lease must cover it before its write-ahead and its send. */
  private triggerMs(f: FollowerConfig): number {
    return this.loaded.registry.adapters.find((a) => a.id === f.adapter)!.timeoutSeconds * 1000;
  }

  private say(id: string, line: string): void {
    this.opts.progress(`[${id}] ${line}`);
  }

  private withTail(id: string, record: StateRecord): StateRecord {
    const tail = this.tails.get(id);
    return tail ? { ...record, adapterTail: { ...record.adapterTail, ...tail } } : record;
  }

  private setTail(id: string, which: 'status' | 'trigger', text: string): void {
    this.tails.set(id, { ...(this.tails.get(id) ?? { status: '', trigger: '' }), [which]: text });
  }

  // Whether the stored record is exactly the one this pass just wrote: a write whose answer was lost
  // (the connection dropped after the API server applied it) and that was sent again conflicts with
  // itself. Its timestamp is part of it, so another writer's record is never taken for it.
  private landed(id: string, record: StateRecord): boolean {
    return isDeepStrictEqual(this.snap.records.get(id), this.withTail(id, record));
  }

  private async events(id: string, transitions: readonly Transition[]): Promise<void> {
    for (const t of transitions)
      this.say(
        id,
        `${t.from ?? '(new)'} -> ${t.to}${t.sha ? ` ${t.sha.slice(0, 12)}` : ''} (${t.reason}${t.detail ? `: ${t.detail}` : ''})`,
      );
    if (this.opts.dryRun || transitions.length === 0) return;
    try {
      await this.ports.events.emit(id, transitions, this.opts.identity);
    } catch (err) {
      this.say(id, `warning: could not record Events: ${(err as Error).message}`);
    }
  }

  /** The Events of every follower's transitions, `controller.pass.concurrency.apiCalls` at once. */
  private async allEvents(items: readonly { id: string; transitions: readonly Transition[] }[]): Promise<void> {
    await mapLimit(items, this.c.pass.concurrency.apiCalls, async ({ id, transitions }) => {
      await this.events(id, transitions);
      if (transitions.some((t) => t.to === Phase.Failed)) this.failed.add(id);
    });
  }

  /** Where this shard keeps its records, for messages. */
  private where(): string {
    const names = stateObjectsOfShard(this.c, this.opts.shard).map((b) => stateObjectName(this.c, b));
    return names.length === 1
      ? `ConfigMap ${this.c.namespace}/${names[0]}`
      : `the state ConfigMaps of shard ${this.opts.shard} in ${this.c.namespace} (${names.join(', ')})`;
  }

  // The wait before the re-read after conflict n (0-based): controller.pass.conflictBackoffMilliseconds,
  // doubled per conflict, jittered by this pass's identity, the shard's state and n, so two passes that
  // collided wait differently (and a simulation replays the same waits).
  private conflictBackoffMs(n: number): number {
    const h = createHash('sha1').update(`${this.opts.identity}\0${this.where()}\0${n}`).digest();
    const jitter = 0.5 + h.readUInt32BE(0) / 0x1_0000_0000;
    return Math.round(this.c.pass.conflictBackoffMilliseconds * 2 ** n * jitter);
  }

  /** The end of a pass whose writes kept losing to another writer: what bounds it and what happens next. */
  private tooManyConflicts(ids: readonly string[], times: number, cause: unknown, sent: string): BranchFollowerError {
    const who =
      ids.length === 1
        ? ids[0]
        : `${ids.length} followers (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`;
    return new BranchFollowerError(
      `the state of ${who} in ${this.where()} changed under this pass ${times} time(s) in a row ` +
        `(controller.pass.conflictRetries: ${this.c.pass.conflictRetries}); ${sent}. Another writer keeps ` +
        `updating it: find it in the ConfigMap's managedFields, or raise controller.pass.conflictRetries`,
      { reason: 'KubeConflict', retryable: true, cause },
    );
  }

  /** Reads the state; every record the pass decides on comes from the latest read. */
  private async readState(): Promise<void> {
    this.snap = await this.ports.state.read();
    this.reads++;
  }

  private item(f: FollowerConfig, view: MirrorView | undefined, observedAt: number, flushed: boolean): Decided {
    return {
      f,
      policy: policyOf(f, this.loaded),
      flushed,
      view: view ?? NO_LOOK,
      observedAt,
      said: undefined,
      prev: undefined,
      decidedOnce: false,
      s: undefined,
      blocked: undefined,
    };
  }

  // observe → decide, for every follower of `ds` at once, on the latest state read. A record read
  // after a follower's observation may have been written by a pass that saw a newer tip, so such a
  // follower's mirror is looked at again first (else a stale tip would supersede a newer in-flight
  // sha, and trigger an older one) — unless its record is still the one it was decided on, which
  // keeps its observation (the pair stays as valid as it was), so a retry after a conflict elsewhere
  // does no I/O between its read and its write. One look serves every follower that needs one.
  private async decide(ds: readonly Decided[]): Promise<void> {
    const stale = ds.filter(
      (d) =>
        this.reads > d.observedAt &&
        !('error' in d.view) &&
        (!d.decidedOnce || !isDeepStrictEqual(d.prev, this.snap.records.get(d.f.id))),
    );
    if (stale.length > 0) {
      const views = await this.ports.mirror.observe(stale.map((d) => d.f));
      for (const d of stale) d.view = views.get(d.f.id) ?? NO_LOOK;
    }
    for (const d of ds) d.observedAt = this.reads;

    const live: Decided[] = [];
    for (const d of ds) {
      const unreadable = this.snap.unreadable.get(d.f.id);
      if (unreadable === undefined) {
        d.blocked = undefined;
        live.push(d);
        continue;
      }
      // Never overwrite what cannot be read: it may hold the shas already triggered.
      d.blocked = {
        id: d.f.id,
        decision: Decision.Blocked,
        reason: Reason.RecordUnreadable,
        message:
          `state record unreadable (${unreadable}); inspect it, then branch-follower cleanup-state ` +
          `--follower ${d.f.id} --confirm`,
        record: undefined,
        triggered: false,
      };
    }

    // What the adapter says, asked side by side; a settled follower is not asked (see settled()).
    const now = () => this.ports.clock.now();
    const statuses = await mapLimit(live, this.c.pass.concurrency.adapterCalls, async (d) => {
      const prev = this.snap.records.get(d.f.id);
      const view = d.view;
      if (!d.f.enabled || 'error' in view || view.tip === null) return undefined;
      if (settled(prev, view, now())) return undefined;
      // A conflict that left this follower's record as it was (another follower's write, another
      // writer) is decided again on what the adapter already said. A record that changed, or a
      // write-ahead whose send is not confirmed, may hold a trigger the answer predates: the
      // adapter is asked again.
      if (d.said?.tip === view.tip && isDeepStrictEqual(d.said.record, prev) && !unconfirmed(prev))
        return d.said.status;
      const s = await this.status(d.f, view.tip, view.snapshotRef, prev);
      this.setTail(d.f.id, 'status', s.tail);
      const status: StatusView = 'error' in s ? { error: s.error } : { status: s.status };
      d.said = { tip: view.tip, status, record: prev };
      return status;
    });

    // A run that just succeeded has published into the mirror since it was looked at: one more look
    // for every such follower, so the mirror checks never come from before the publish.
    const looks = new Map<string, MirrorView>();
    if (!this.opts.dryRun) {
      const again = live.filter((d, i) => {
        const status = statuses[i];
        return status !== undefined && runJustSucceeded(this.snap.records.get(d.f.id), status);
      });
      if (again.length > 0) {
        const views = await this.ports.mirror.observe(again.map((d) => d.f));
        for (const d of again) looks.set(d.f.id, views.get(d.f.id) ?? NO_LOOK);
      }
    }

    live.forEach((d, i) => {
      const prev = this.snap.records.get(d.f.id);
      d.prev = prev;
      d.decidedOnce = true;
      d.s =
        (d.f.enabled ? settled(prev, d.view, now()) : undefined) ??
        step(prev, looks.get(d.f.id) ?? d.view, statuses[i], d.policy, now());
    });
  }

  // What the adapter says of `tip`: the answer to a call started when this follower's look arrived,
  // when that call was about the same tip and snapshot on the same state read with the same record
  // (so it was asked after everything this decide knows, exactly as a call made now would be), else
  // a call made now. Either way within the pass's bound on adapter calls.
  private async status(f: FollowerConfig, tip: string, snapshotRef: string, prev: StateRecord | undefined) {
    const early = this.asked.get(f.id);
    this.asked.delete(f.id);
    if (
      early !== undefined &&
      early.tip === tip &&
      early.snapshotRef === snapshotRef &&
      early.reads === this.reads &&
      isDeepStrictEqual(early.record, prev)
    )
      return early.answer;
    return this.asking(() => this.ports.adapters.status(f, tip, snapshotRef));
  }

  // A follower's look arrived while other mirrors still sync: its status call starts now rather than
  // after every sync, for each follower the decide that follows will ask (enabled, a tip, a readable
  // record, not settled). Asking is a read; the decision is still made on it in decide().
  private early(followers: ReadonlyMap<string, FollowerConfig>, views: ReadonlyMap<string, MirrorView>): void {
    for (const [id, view] of views) {
      const f = followers.get(id);
      if (!f?.enabled || 'error' in view || view.tip === null || this.snap.unreadable.has(id)) continue;
      const record = this.snap.records.get(id);
      if (settled(record, view, this.ports.clock.now())) continue;
      const { tip, snapshotRef } = view;
      const answer = this.asking(() => this.ports.adapters.status(f, tip, snapshotRef));
      // An answer never taken (its follower was decided on another look) must not reject unheard.
      answer.then(undefined, () => undefined);
      this.asked.set(id, { tip, snapshotRef, reads: this.reads, record, answer });
    }
  }

  // writeAhead / writeState: every changed record of `ds` in one compare-and-swap (one per shard
  // per look). On a conflict it re-reads: a record that landed anyway (its answer was lost) stands;
  // every other follower is decided again on the fresh read before the write is tried again.
  private async persist(ds: Decided[]): Promise<void> {
    for (let conflict = 0; ; conflict++) {
      const live = ds.filter((d) => d.blocked === undefined);
      const updates = new Map<string, StateRecord>();
      let needMs = 0;
      for (const d of live) {
        const next = this.withTail(d.f.id, d.s!.next);
        if (sameExceptTime(this.snap.records.get(d.f.id), next)) continue;
        updates.set(d.f.id, next);
        if (d.s!.action.kind === 'trigger') needMs = Math.max(needMs, this.triggerMs(d.f));
      }
      if (updates.size === 0) return;
      await this.keep(needMs);
      try {
        this.snap = await this.ports.state.write(this.snap, updates);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        const ids = [...updates.keys()];
        if (conflict >= this.c.pass.conflictRetries)
          throw this.tooManyConflicts(ids, conflict + 1, err, 'no trigger was sent for it');
        await this.ports.clock.sleep(this.conflictBackoffMs(conflict));
        await this.readState();
        const again = live.filter((d) => updates.has(d.f.id) && !this.landed(d.f.id, d.s!.next));
        if (again.length === 0) return;
        for (const d of again) this.say(d.f.id, 'state changed under this pass: re-reading and deciding again');
        await this.decide(again);
      }
    }
  }

  // The trigger results onto their write-aheads, in one write. On a conflict it re-reads: a record
  // that is still its attempt's write-ahead takes the result; one that someone else moved on stands
  // (it is never overwritten with a stale one).
  private async persistSent(sent: Sent[]): Promise<void> {
    for (let conflict = 0; ; conflict++) {
      const open = sent.filter((x) => !x.done);
      if (open.length === 0) return;
      const updates = new Map<string, StateRecord>();
      for (const x of open) {
        x.after = afterTrigger(x.base, x.result, x.d.policy, this.ports.clock.now());
        const next = this.withTail(x.d.f.id, x.after.next);
        if (sameExceptTime(this.snap.records.get(x.d.f.id), next)) x.done = true;
        else updates.set(x.d.f.id, next);
      }
      if (updates.size === 0) return;
      try {
        this.snap = await this.ports.state.write(this.snap, updates);
        for (const x of open) x.done = true;
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        const ids = [...updates.keys()];
        if (conflict >= this.c.pass.conflictRetries) {
          const what =
            ids.length === 1 ? `the trigger of ${open[0]!.d.s!.next.inFlight!.sha.slice(0, 12)}` : 'triggers';
          throw this.tooManyConflicts(
            ids,
            conflict + 1,
            err,
            `${what} ${ids.length === 1 ? 'was' : 'were'} sent and ${ids.length === 1 ? 'its write-ahead stands' : 'their write-aheads stand'}: ` +
              `the next pass follows ${ids.length === 1 ? 'its run' : 'their runs'}`,
          );
        }
        await this.ports.clock.sleep(this.conflictBackoffMs(conflict));
        await this.readState();
        for (const x of open) {
          if (!updates.has(x.d.f.id) || this.landed(x.d.f.id, x.after!.next)) {
            x.done = true;
            continue;
          }
          const mine = x.d.s!.next.inFlight!;
          const current = this.snap.records.get(x.d.f.id);
          const f = current?.inFlight;
          if (
            !current ||
            !f ||
            f.sha !== mine.sha ||
            f.attempt !== mine.attempt ||
            f.sentAt !== mine.sentAt ||
            f.triggeredAt !== null
          ) {
            this.say(x.d.f.id, 'the record moved on while the trigger was sent; keeping the newer record');
            x.after = undefined;
            x.done = true;
            continue;
          }
          x.base = current;
        }
      }
    }
  }

  /** The outcome of a follower whose decision stands (no trigger, no further look). */
  private outcomeOf(d: Decided): FollowerOutcome {
    if (d.blocked) return d.blocked;
    const s = d.s!;
    return {
      id: d.f.id,
      decision: s.decision,
      reason: s.reason,
      message: s.message,
      record: this.opts.dryRun ? d.prev : s.next,
      triggered: false,
    };
  }

  // One look at `ds`: decide all, write all, then the actions — the triggers whose write-ahead just
  // landed (side by side, each under a Lease that covers it), and the flushes (one per follower per
  // look, all in one call of the mirror port: each result is read back from the mirror cache, and the
  // follower is decided once more).
  private async look(ds: Decided[]): Promise<Map<string, FollowerOutcome>> {
    await this.decide(ds);
    const out = new Map<string, FollowerOutcome>();
    if (this.opts.dryRun) {
      for (const d of ds) out.set(d.f.id, this.outcomeOf(d));
      return out;
    }
    await this.persist(ds);
    const live = ds.filter((d) => d.blocked === undefined);
    await this.allEvents(live.map((d) => ({ id: d.f.id, transitions: d.s!.transitions })));

    const senders = live.filter((d) => d.s!.action.kind === 'trigger');
    const sent = await mapLimit(senders, this.c.pass.concurrency.adapterCalls, async (d): Promise<Sent> => {
      const a = d.s!.action as Extract<Step['action'], { kind: 'trigger' }>;
      // The write-ahead record is persisted: only now is the trigger sent, under a Lease that covers it
      // (checked once the call has its slot among the adapter calls, right before it is sent).
      const r = await this.asking(async () => {
        await this.keep(this.triggerMs(d.f));
        this.say(d.f.id, `trigger ${a.sha.slice(0, 12)} ${a.snapshotRef} (attempt ${a.attempt})`);
        return this.ports.adapters.trigger(d.f, a.sha, a.snapshotRef);
      });
      this.setTail(d.f.id, 'trigger', r.tail);
      const result = 'error' in r ? { error: r.error } : { runName: r.runName };
      return { d, result, base: d.s!.next, after: undefined, done: false };
    });
    await this.persistSent(sent);
    await this.allEvents(sent.flatMap((x) => (x.after ? [{ id: x.d.f.id, transitions: x.after.transitions }] : [])));
    for (const x of sent) {
      out.set(x.d.f.id, {
        id: x.d.f.id,
        decision: x.d.s!.decision,
        reason: x.d.s!.reason,
        message: 'error' in x.result ? x.result.error : `run ${x.result.runName}`,
        record: x.after?.next ?? x.d.s!.next,
        triggered: true,
      });
    }

    const flushers = live.filter((d) => d.s!.action.kind === 'flush' && !d.flushed);
    if (flushers.length > 0) {
      // One flush for all of them: the port flushes each mirror's refs together (its git processes
      // do not grow with its followers), the mirrors side by side.
      await this.keep(0);
      const wanted = flushers.map((d) => {
        const a = d.s!.action as Extract<Step['action'], { kind: 'flush' }>;
        this.say(d.f.id, `flush ${a.ref} (run of ${a.sha.slice(0, 12)} succeeded)`);
        return { follower: d.f, ref: a.ref };
      });
      const flushed = await this.ports.mirror.flush(wanted);
      for (const d of flushers) {
        const r = flushed.get(d.f.id) ?? { error: 'the mirror port gave no answer for this follower' };
        this.say(d.f.id, 'error' in r ? `flush failed: ${r.error}` : `flush: ${r.summary}`);
        if ('error' in r) this.failed.add(d.f.id); // e.g. a non-fast-forward: it needs a person
      }
      const views = await this.ports.mirror.observe(flushers.map((d) => d.f));
      const again = flushers.map((d) => this.item(d.f, views.get(d.f.id), this.reads, true));
      for (const [id, o] of await this.look(again)) out.set(id, o);
    }
    for (const d of ds) if (!out.has(d.f.id)) out.set(d.f.id, this.outcomeOf(d));
    return out;
  }

  async run(): Promise<PassResult> {
    const { opts, c } = this;
    const { clock } = this.ports;
    // The first look may take a sync another shard's pass of this process started after this pass did
    // (the mirror port shares it); a later look syncs anew, after what this pass itself did.
    let shareFrom: number | undefined = clock.now();
    if (!opts.dryRun) {
      const takenAt = clock.now();
      const got = await this.ports.lease.acquire(opts.identity);
      if (!got.acquired) return { skipped: { holder: got.holder, renewedAgoMs: got.renewedAgoMs } };
      this.keeper = new LeaseKeeper(
        this.ports.lease,
        clock,
        {
          durationMs: c.lease.durationSeconds * 1000,
          renewMs: c.lease.renewSeconds * 1000,
          what: `Lease ${c.namespace}/${shardLeaseName(c, opts.shard)}`,
          identity: opts.identity,
        },
        got.lease,
        takenAt,
      );
      this.keeper.start();
    }
    let outcomes: FollowerOutcome[] = [];
    // Each follower's latest outcome, and the tip each look saw: a look in the watch window handles
    // only the followers whose tip moved since (see PassOptions.window).
    const latest = new Map<string, FollowerOutcome>();
    const seen = new Map<string, string | null>();
    // Followers a look in the window left pending or in flight: looked at again until they settle.
    const followed = new Set<string>();
    let inWindow = false;
    // The window's looks, and each mirror's upstream reads since the pass began (runner/window-pacing.ts).
    let looks = 0;
    const mirror = this.ports.mirror;
    const readsAtStart = new Map(this.syncedMirrors().map((m) => [m, mirror.upstreamReads(m)]));
    const readsSince = (m: string) => mirror.upstreamReads(m) - (readsAtStart.get(m) ?? 0);
    try {
      const busy = await this.carryOver();
      if (busy) return { skipped: busy };
      for (;;) {
        outcomes = [];
        await this.readState();
        // A confirmed pass syncs first: every trigger names a snapshot this sync made (or found).
        await this.keep(0);
        const { syncFailed, observed } = opts.dryRun
          ? { syncFailed: new Map<string, string>(), observed: await this.ports.mirror.observe(opts.followers) }
          : await this.syncThenObserve(shareFrom, inWindow ? { seen, look: ++looks, readsSince } : undefined);
        shareFrom = undefined;
        const viewOf = (f: FollowerConfig): MirrorView | undefined => {
          const failedSync = syncFailed.get(f.source.mirror);
          return failedSync === undefined ? observed.get(f.id) : { error: failedSync, reason: Reason.MirrorSyncFailed };
        };
        const chosen = inWindow
          ? opts.followers.filter((f) => {
              const view = viewOf(f);
              const moved = view !== undefined && 'tip' in view && seen.get(f.id) !== view.tip;
              return moved || followed.has(f.id) || (opts.wait && inFlight(this.snap.records.get(f.id)));
            })
          : opts.followers;
        for (const f of opts.followers) {
          const view = viewOf(f);
          if (view !== undefined && 'tip' in view) seen.set(f.id, view.tip);
        }
        const byId = await this.look(chosen.map((f) => this.item(f, viewOf(f), this.reads, false)));
        for (const f of chosen) latest.set(f.id, byId.get(f.id)!);
        if (inWindow)
          for (const f of chosen) {
            const r = this.snap.records.get(f.id);
            if (inFlight(r) || r?.phase === Phase.PendingTrigger) followed.add(f.id);
            else followed.delete(f.id);
          }
        outcomes = opts.followers.map((f) => latest.get(f.id)!);
        for (const f of chosen) if (ERROR_REASONS.has(latest.get(f.id)!.reason)) this.failed.add(f.id);
        const waiting = opts.wait ? opts.followers.filter((f) => inFlight(this.snap.records.get(f.id))) : [];
        const window = opts.window;
        const watching = window !== undefined && !opts.dryRun && clock.now() + window.intervalMs <= window.untilMs;
        if (opts.dryRun || (waiting.length === 0 && !watching)) return { outcomes, failed: this.failed.size > 0 };
        const pollMs =
          waiting.length > 0
            ? Math.min(...waiting.map((f) => f.closeout.pollIntervalSeconds * 1000))
            : Number.POSITIVE_INFINITY;
        const sleepMs = watching ? Math.min(pollMs, window.intervalMs) : pollMs;
        await this.heartbeat.sleep(sleepMs, () =>
          waiting.length > 0 ? this.waitingLine(waiting) : this.windowLine(window!.untilMs),
        );
        // Once the pass has looked at every follower, a look in the watch window is one only for what moved.
        if (window !== undefined) inWindow = true;
      }
    } catch (err) {
      // Another pass took the Lease over: this one stops acting at once; the other goes on.
      if (err instanceof LeaseLost && err.takenBy) {
        return { outcomes: [...outcomes], failed: this.failed.size > 0, leaseLost: err.takenBy };
      }
      throw err;
    } finally {
      const held = await this.keeper?.stop();
      if (held) await this.release(held);
    }
  }

  // Before a shard reads its own state: the records of the layout before shards move into the
  // shards (runner/carry-over.ts), or, in a dry run, are decided on where they are. Returns the holder
  // when a pass of the old layout (or another carry-over) holds its Lease: this pass does not act.
  private async carryOver(): Promise<{ holder: string; renewedAgoMs: number } | undefined> {
    const port = this.ports.carryOver;
    if (!port) return undefined;
    const where = `ConfigMap ${this.c.namespace}/${this.c.configMaps.state}`;
    if (this.opts.dryRun) {
      const old = await port.peek();
      if (!old) return undefined;
      this.opts.progress(
        `state: ${old.size} record(s) are still in ${where} (the layout before shards): the first confirmed pass ` +
          'carries them over; this dry run decides on them',
      );
      const state = this.ports.state;
      this.ports = {
        ...this.ports,
        state: {
          async read() {
            const snap = await state.read();
            const records = new Map(snap.records);
            for (const [id, r] of old) if (!records.has(id) && !snap.unreadable.has(id)) records.set(id, r);
            return { ...snap, records };
          },
          write: () => Promise.reject(new Error('a dry run writes no state')),
        },
      };
      return undefined;
    }
    await this.keep(0);
    const r = await port.carry(this.opts.identity);
    if ('busy' in r) {
      this.opts.progress(
        `state: ${where} (the layout before shards) still exists and ${r.busy.holder} holds Lease ` +
          `${this.c.namespace}/${this.c.lease.name}: not acting until its records are carried over`,
      );
      return r.busy;
    }
    if ('layoutChanged' in r)
      throw new BranchFollowerError(
        `the state is kept for ${r.layoutChanged.from} and the registry says ${r.layoutChanged.to} ` +
          '(controller.pass.shards, controller.state.objects): followers would be looked for in other state ' +
          'ConfigMaps and taken for never observed. Nothing was done: restore the old values, or move the records ' +
          'to the new layout as docs/operations.md says (Changing the shards)',
        { reason: 'InvalidConfig', retryable: false },
      );
    if ('carried' in r)
      this.opts.progress(
        `state: carried ${r.carried} record(s) over from ${where} into the shards' state, then deleted it`,
      );
    return undefined;
  }

  /**
   * git-mirror sync of every mirror an enabled follower uses, then the look at every follower after it; returns the
   * mirrors whose sync failed, with why, and the look.
   */
  private async syncThenObserve(
    notBefore: number | undefined,
    /**
     * In the watch window: the tips the last look saw (a mirror none of whose followers moved syncs quietly), which
     * look of the window this is, and the pass's upstream reads of a mirror: the mirrors it syncs are paced by them.
     */
    window?: {
      readonly seen: ReadonlyMap<string, string | null>;
      readonly look: number;
      readonly readsSince: (mirror: string) => number;
    },
  ): Promise<{
    syncFailed: Map<string, string>;
    observed: ReadonlyMap<string, MirrorView>;
  }> {
    const every = this.syncedMirrors();
    const mirrors = window ? pacedMirrors(every, window.look, window.readsSince) : every;
    const quietUnless = window?.seen;
    const failed = new Map<string, string>();
    if (mirrors.length === 0)
      return { syncFailed: failed, observed: await this.ports.mirror.observe(this.opts.followers) };
    const byId = new Map(this.opts.followers.map((f) => [f.id, f]));
    const { synced, views } = await this.ports.mirror.syncThenObserve(
      mirrors,
      this.opts.followers,
      (early) => this.early(byId, early),
      notBefore,
    );
    const movedMirrors = new Set<string>();
    if (quietUnless)
      for (const f of this.opts.followers) {
        const view = views.get(f.id);
        if (view && 'tip' in view && quietUnless.get(f.id) !== view.tip) movedMirrors.add(f.source.mirror);
      }
    for (const [id, r] of synced) {
      if ('error' in r) {
        failed.set(id, `git-mirror sync of mirror ${id} failed: ${r.error}`);
        this.opts.progress(`[mirror ${id}] sync failed: ${r.error}`);
      } else if (!quietUnless || movedMirrors.has(id)) {
        this.opts.progress(`[mirror ${id}] sync: ${r.summary}`);
      }
    }
    return { syncFailed: failed, observed: views };
  }

  /** The mirrors a look syncs: every one an enabled follower uses. */
  private syncedMirrors(): string[] {
    return [...new Set(this.opts.followers.filter((f) => f.enabled).map((f) => f.source.mirror))];
  }

  /** Gives the Lease back; a failure here only delays the next pass until the Lease expires. */
  private async release(lease: HeldLease): Promise<void> {
    try {
      await this.ports.lease.release(lease);
    } catch (err) {
      this.opts.progress(
        `warning: could not release Lease ${shardLeaseName(this.c, this.opts.shard)}: ${(err as Error).message}`,
      );
    }
  }
}

/** Runs one reconcile pass of one shard on its ports: see the file comment. */
export function runPass(ports: PassPorts, loaded: LoadedRegistry, opts: PassOptions): Promise<PassResult> {
  return new Pass(ports, loaded, opts).run();
}
