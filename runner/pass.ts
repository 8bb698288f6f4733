import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { LoadedRegistry } from '../core/config/load.ts';
import type { FollowerConfig } from '../core/config/schema.ts';
import { BranchFollowerError } from '../core/errors.ts';
import { Decision, Phase, Reason } from './phases.ts';
import { LeaseKeeper, LeaseLost } from './lease-keeper.ts';
import type { HeldLease, PassPorts, StateSnapshot } from './ports.ts';
import {
  afterTrigger,
  runJustSucceeded,
  step,
  type MirrorView,
  type Policy,
  type Step,
  type StatusView,
} from './state-machine.ts';
import type { StateRecord, Transition } from './state-record.ts';

// The reconcile pass, as Flux's reconcilers run theirs: small steps in a fixed order, each saying
// what it reads and writes —
//   acquireLease → (readState → observe → decide → writeAhead → trigger → writeState → emitEvents)*
// — repeated while --wait follows closeout, under a Lease renewed in the background and checked
// before every write-ahead and trigger (runner/lease-keeper.ts). Every decision comes from the pure
// state machine; this file only moves data between it and the ports (runner/ports.ts): state,
// Lease, Events, mirror, adapters and clock. It imports no Kubernetes client, no git and no process.

export interface PassOptions {
  readonly followers: readonly FollowerConfig[];
  readonly dryRun: boolean;
  readonly wait: boolean;
  /** Who this pass is, as the Lease holder and the Events' reporting instance. */
  readonly identity: string;
  /** One line of progress for people (stderr). */
  readonly progress: (line: string) => void;
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

class Pass {
  private snap!: StateSnapshot;
  /**
   * How many times this pass has read the state: an observation made before the latest read may be older than a record
   * in it.
   */
  private reads = 0;
  private readonly tails = new Map<string, { status: string; trigger: string }>();
  /** Followers that failed (or were blocked by an error) at any time during this pass. */
  private readonly failed = new Set<string>();
  private readonly c: LoadedRegistry['registry']['controller'];
  private readonly ports: PassPorts;
  private readonly loaded: LoadedRegistry;
  private readonly opts: PassOptions;
  /** The Lease while this (confirmed) pass holds it. */
  private keeper: LeaseKeeper | undefined;

  constructor(ports: PassPorts, loaded: LoadedRegistry, opts: PassOptions) {
    this.ports = ports;
    this.loaded = loaded;
    this.opts = opts;
    this.c = loaded.registry.controller;
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

  // Whether the stored record is exactly the one this pass just wrote: a write whose answer was lost
  // (the connection dropped after the API server applied it) and that was sent again conflicts with
  // itself. Its timestamp is part of it, so another writer's record is never taken for it.
  private landed(id: string, record: StateRecord): boolean {
    return isDeepStrictEqual(this.snap.records.get(id), this.withTail(id, record));
  }

  /** Persists one record (compare-and-swap) unless only its timestamp changed. */
  private async persist(id: string, record: StateRecord): Promise<void> {
    const next = this.withTail(id, record);
    if (sameExceptTime(this.snap.records.get(id), next)) return;
    this.snap = await this.ports.state.write(this.snap, new Map([[id, next]]));
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

  // The wait before the re-read after conflict n (0-based): controller.pass.conflictBackoffMilliseconds,
  // doubled per conflict, jittered by this pass's identity, the follower and n, so two passes that
  // collided wait differently (and a simulation replays the same waits).
  private conflictBackoffMs(id: string, n: number): number {
    const h = createHash('sha1').update(`${this.opts.identity}\0${id}\0${n}`).digest();
    const jitter = 0.5 + h.readUInt32BE(0) / 0x1_0000_0000;
    return Math.round(this.c.pass.conflictBackoffMilliseconds * 2 ** n * jitter);
  }

  /** The end of a pass whose writes kept losing to another writer: what bounds it and what happens next. */
  private tooManyConflicts(id: string, times: number, cause: unknown, sent: string): BranchFollowerError {
    const where = `ConfigMap ${this.c.namespace}/${this.c.configMaps.state}`;
    return new BranchFollowerError(
      `the state of ${id} in ${where} changed under this pass ${times} time(s) in a row ` +
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

  // observe → decide for one follower; with a trigger action, writeAhead → trigger → writeState; with
  // a flush action, flush → observe → decide once more. `observedAt` is the number of state reads
  // made before `mirror` was observed: a record read after the observation may have been written by
  // a pass that saw a newer tip, so the mirror is looked at again before deciding on it (else a
  // stale tip would supersede a newer in-flight sha, and trigger an older one).
  private async follow(
    f: FollowerConfig,
    mirror: MirrorView | undefined,
    observedAt: number,
    flushed = false,
  ): Promise<FollowerOutcome> {
    const policy = policyOf(f, this.loaded);
    let view: MirrorView = mirror ?? { error: 'no observation' };
    // What the adapter said in this look, of which tip, paired with which record.
    let said: { tip: string; status: StatusView; record: StateRecord | undefined } | undefined;
    // The record the last decision of this look was made on, with an observation made after it was read.
    let decidedOn: { record: StateRecord | undefined } | undefined;
    for (let conflict = 0; ; conflict++) {
      if (this.reads > observedAt && !('error' in view)) {
        // A record that is still the one decided on keeps its observation (the pair stays as valid as
        // it was), so a retry after a conflict elsewhere does no I/O between its read and its write.
        if (!decidedOn || !isDeepStrictEqual(decidedOn.record, this.snap.records.get(f.id)))
          view = (await this.ports.mirror.observe([f])).get(f.id) ?? { error: 'no observation' };
        observedAt = this.reads;
      }
      const unreadable = this.snap.unreadable.get(f.id);
      if (unreadable !== undefined) {
        // Never overwrite what cannot be read: it may hold the shas already triggered.
        const message =
          `state record unreadable (${unreadable}); inspect it, then branch-follower cleanup-state ` +
          `--follower ${f.id} --confirm`;
        return {
          id: f.id,
          decision: Decision.Blocked,
          reason: Reason.RecordUnreadable,
          message,
          record: undefined,
          triggered: false,
        };
      }
      const prev = this.snap.records.get(f.id);
      let status: StatusView | undefined;
      let look = view;
      if (f.enabled && !('error' in view) && view.tip !== null) {
        // A conflict that left this follower's record as it was (another follower's write, another
        // writer) is decided again on what the adapter already said. A record that changed, or a
        // write-ahead whose send is not confirmed, may hold a trigger the answer predates: the
        // adapter is asked again.
        if (said?.tip === view.tip && isDeepStrictEqual(said.record, prev) && !unconfirmed(prev)) status = said.status;
        else {
          const s = await this.ports.adapters.status(f, view.tip, view.snapshotRef);
          this.tails.set(f.id, { ...(this.tails.get(f.id) ?? { status: '', trigger: '' }), status: s.tail });
          status = 'error' in s ? { error: s.error } : { status: s.status };
          said = { tip: view.tip, status, record: prev };
        }
        if (!this.opts.dryRun && runJustSucceeded(prev, status))
          look = (await this.ports.mirror.observe([f])).get(f.id) ?? { error: 'no observation' };
      }
      const s: Step = step(prev, look, status, policy, this.ports.clock.now());
      decidedOn = { record: prev };
      if (this.opts.dryRun)
        return { id: f.id, decision: s.decision, reason: s.reason, message: s.message, record: prev, triggered: false };
      await this.keep(s.action.kind === 'trigger' ? this.triggerMs(f) : 0);
      try {
        await this.persist(f.id, s.next);
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (conflict >= this.c.pass.conflictRetries)
          throw this.tooManyConflicts(f.id, conflict + 1, err, 'no trigger was sent for it');
        await this.ports.clock.sleep(this.conflictBackoffMs(f.id, conflict));
        await this.readState();
        if (!this.landed(f.id, s.next)) {
          this.say(f.id, 'state changed under this pass: re-reading and deciding again');
          continue;
        }
      }
      await this.events(f.id, s.transitions);
      if (s.transitions.some((t) => t.to === Phase.Failed)) this.failed.add(f.id);
      if (s.action.kind === 'flush' && !flushed) {
        // One flush per look: its result is read back from the mirror cache, and the machine decides again.
        await this.keep(0);
        this.say(f.id, `flush ${s.action.ref} (run of ${s.action.sha.slice(0, 12)} succeeded)`);
        const r = await this.ports.mirror.flush(f, s.action.ref);
        this.say(f.id, 'error' in r ? `flush failed: ${r.error}` : `flush: ${r.summary}`);
        if ('error' in r) this.failed.add(f.id); // e.g. a non-fast-forward: it needs a person
        const again = await this.ports.mirror.observe([f]);
        return this.follow(f, again.get(f.id), this.reads, true);
      }
      if (s.action.kind !== 'trigger')
        return {
          id: f.id,
          decision: s.decision,
          reason: s.reason,
          message: s.message,
          record: s.next,
          triggered: false,
        };

      // The write-ahead record is persisted: only now is the trigger sent, under a Lease that covers it.
      await this.keep(this.triggerMs(f));
      this.say(f.id, `trigger ${s.action.sha.slice(0, 12)} ${s.action.snapshotRef} (attempt ${s.action.attempt})`);
      const result = await this.ports.adapters.trigger(f, s.action.sha, s.action.snapshotRef);
      this.tails.set(f.id, { ...(this.tails.get(f.id) ?? { status: '', trigger: '' }), trigger: result.tail });
      const outcome = 'error' in result ? { error: result.error } : { runName: result.runName };
      const after = await this.persistAfterTrigger(f.id, s.next, outcome, policy);
      if (after) {
        await this.events(f.id, after.transitions);
        if (after.transitions.some((t) => t.to === Phase.Failed)) this.failed.add(f.id);
      }
      return {
        id: f.id,
        decision: s.decision,
        reason: s.reason,
        message: 'error' in result ? result.error : `run ${result.runName}`,
        record: after?.next ?? s.next,
        triggered: true,
      };
    }
  }

  // Records the trigger's result onto the write-ahead. On a conflict it re-reads: if the record is
  // still this attempt's write-ahead, the result goes onto it; if someone else moved it on, their
  // record stands (it is never overwritten with a stale one).
  private async persistAfterTrigger(
    id: string,
    writeAhead: StateRecord,
    result: { runName: string } | { error: string },
    policy: Policy,
  ) {
    const mine = writeAhead.inFlight!;
    let base = writeAhead;
    for (let conflict = 0; ; conflict++) {
      const after = afterTrigger(base, result, policy, this.ports.clock.now());
      try {
        await this.persist(id, after.next);
        return after;
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (conflict >= this.c.pass.conflictRetries) {
          throw this.tooManyConflicts(
            id,
            conflict + 1,
            err,
            `the trigger of ${mine.sha.slice(0, 12)} was sent and its write-ahead stands: the next pass follows its run`,
          );
        }
        await this.ports.clock.sleep(this.conflictBackoffMs(id, conflict));
        await this.readState();
        if (this.landed(id, after.next)) return after;
        const current = this.snap.records.get(id);
        const f = current?.inFlight;
        if (
          !current ||
          !f ||
          f.sha !== mine.sha ||
          f.attempt !== mine.attempt ||
          f.sentAt !== mine.sentAt ||
          f.triggeredAt !== null
        ) {
          this.say(id, 'the record moved on while the trigger was sent; keeping the newer record');
          return undefined;
        }
        base = current;
      }
    }
  }

  async run(): Promise<PassResult> {
    const { opts, c } = this;
    const { clock } = this.ports;
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
          what: `Lease ${c.namespace}/${c.lease.name}`,
          identity: opts.identity,
        },
        got.lease,
        takenAt,
      );
      this.keeper.start();
    }
    const outcomes: FollowerOutcome[] = [];
    try {
      for (;;) {
        outcomes.length = 0;
        await this.readState();
        // A confirmed pass syncs first: every trigger names a snapshot this sync made (or found).
        await this.keep(0);
        const syncFailed = opts.dryRun ? new Map<string, string>() : await this.sync();
        let observed = await this.ports.mirror.observe(opts.followers);
        let observedAt = this.reads;
        for (const [i, f] of opts.followers.entries()) {
          // A follower's conflict re-read the state: one fresh look for everyone still to decide,
          // rather than one per follower (see follow).
          if (this.reads > observedAt) {
            observed = await this.ports.mirror.observe(opts.followers.slice(i));
            observedAt = this.reads;
          }
          const failedSync = syncFailed.get(f.source.mirror);
          const view: MirrorView | undefined =
            failedSync === undefined ? observed.get(f.id) : { error: failedSync, reason: Reason.MirrorSyncFailed };
          const o = await this.follow(f, view, observedAt);
          if (ERROR_REASONS.has(o.reason)) this.failed.add(f.id);
          outcomes.push(o);
        }
        const waiting = opts.followers.filter((f) => inFlight(this.snap.records.get(f.id)));
        if (opts.dryRun || !opts.wait || waiting.length === 0) return { outcomes, failed: this.failed.size > 0 };
        const pollMs = Math.min(...waiting.map((f) => f.closeout.pollIntervalSeconds * 1000));
        await clock.sleep(pollMs);
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

  /** git-mirror sync of every mirror an enabled follower uses; returns the mirrors whose sync failed, with why. */
  private async sync(): Promise<Map<string, string>> {
    const mirrors = [...new Set(this.opts.followers.filter((f) => f.enabled).map((f) => f.source.mirror))];
    const failed = new Map<string, string>();
    if (mirrors.length === 0) return failed;
    for (const [id, r] of await this.ports.mirror.sync(mirrors)) {
      if ('error' in r) {
        failed.set(id, `git-mirror sync of mirror ${id} failed: ${r.error}`);
        this.opts.progress(`[mirror ${id}] sync failed: ${r.error}`);
      } else {
        this.opts.progress(`[mirror ${id}] sync: ${r.summary}`);
      }
    }
    return failed;
  }

  /** Gives the Lease back; a failure here only delays the next pass until the Lease expires. */
  private async release(lease: HeldLease): Promise<void> {
    try {
      await this.ports.lease.release(lease);
    } catch (err) {
      this.opts.progress(`warning: could not release Lease ${this.c.lease.name}: ${(err as Error).message}`);
    }
  }
}

/** Runs one reconcile pass on its ports: see the file comment. */
export function runPass(ports: PassPorts, loaded: LoadedRegistry, opts: PassOptions): Promise<PassResult> {
  return new Pass(ports, loaded, opts).run();
}
