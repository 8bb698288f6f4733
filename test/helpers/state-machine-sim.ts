import type { AdapterRun, AdapterStatus } from '../../runner/adapters/contract.ts';
import { gitopsObserved, MIRROR_STAGE_PREFIX } from '../../runner/observe/observation.ts';
import { Reason } from '../../runner/phases.ts';
import { afterTrigger, runJustSucceeded, step, type Action, type GitopsView, type MirrorView, type Policy, type Step, type StatusView } from '../../runner/state-machine.ts';
import { StateRecordSchema, type StateRecord, type Transition } from '../../runner/state-record.ts';

// A small world around the pure state machine for the property tests: a fake git mirror cache, a
// fake control plane (it records every trigger it receives and reports status from its own state), a
// state store with compare-and-swap, and passes written as generators so that a pass can be
// killed at any point and two passes can be interleaved.
//
// The follower's GitOps ref lives in the mirror cache, as in the real pass: the control plane
// publishes its GitOps commit into the mirror's refs/heads/<gitops branch> when a run succeeds,
// which leaves it pending until a git-mirror flush confirms it upstream (refs/mirror-stage/<gitops
// branch> = the same commit). The machine reads pendingFlush/githubInSync from that cache (computed
// by the real `gitopsObserved`), never from the adapter's status, whose `mirror` field the simulated
// adapter fills with whatever a test tells it (it may contradict the cache).
//
// Time is the world's clock (`now`, in ms). The control plane's timing is in time too, as the
// registry declares it: a trigger command runs for `sendMs` (adapters[].timeoutSeconds bounds it)
// and its run shows in the status `lagMs` after the command returned (adapters[].statusLagSeconds
// bounds it). The machine's Policy.unconfirmedGraceMs is timeoutSeconds + statusLagSeconds, so an
// adapter within its declared bounds has sendMs + lagMs <= unconfirmedGraceMs.

export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();

/** A distinct, realistic-looking 40-hex sha for every n. */
export function shaOf(n: number): string {
  let out = '';
  let x = (n + 1) * 2654435761;
  for (let i = 0; i < 5; i++) {
    x = (Math.imul(x ^ (x >>> 15), 2246822519) + i * 3266489917) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out;
}

export const snapshotRefOf = (sha: string): string => `refs/unidesk/snapshots/demo/main/${sha}`;

/** The follower's GitOps ref in the mirror (the target entry's gitopsRef). */
export const GITOPS_REF = 'refs/heads/gitops/demo';
/** Where git-mirror sync/flush keep what the upstream was confirmed to hold of it. */
export const GITOPS_CACHE_REF = `${MIRROR_STAGE_PREFIX}gitops/demo`;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

interface FakeRun {
  name: string;
  sha: string;
  attempt: number;
  phase: AdapterRun['phase'];
  message?: string;
  /** The status shows the run from this time on (trigger received + sendMs + lagMs). */
  visibleAt: number;
}

export interface Received {
  readonly seq: number;
  /** When the control plane received the trigger (the sending pass's clock when it sent). */
  readonly at: number;
  readonly sha: string;
  readonly attempt: number;
  readonly snapshotRef: string;
  /** The run it started. */
  readonly run: string;
  /** How long after `at` the status first showed the run, as the adapter's timing was then. */
  readonly shownAfterMs: number;
  /** The run the status showed to the step that decided this send (null: none). */
  readonly seenRun: string | null;
}

/** The control plane: a run per trigger it receives; status from its own state. */
export class FakeControlPlane {
  readonly received: Received[] = [];
  readonly runs: FakeRun[] = [];
  targetSha: string | null = null;
  deployedSha: string | null = null;
  /** What the adapter's status says of the mirror: required by the contract, ignored by the machine. */
  adapterMirror: AdapterStatus['mirror'] = { pendingFlush: false, githubInSync: true };
  /** The next n status looks fail. */
  statusErrors = 0;
  /** The next n triggers fail; `startsAnyway` when the failing trigger still started a run. */
  triggerFailures = 0;
  startsAnyway = false;
  /** How long a trigger command runs: the sending pass's clock moves on by this before it returns. */
  sendMs = 0;
  /** How long after the trigger command returned its run still does not show in the status. */
  lagMs = 0;
  private readonly world: World;

  constructor(world: World) {
    this.world = world;
  }

  status(): StatusView {
    if (this.statusErrors > 0) {
      this.statusErrors--;
      return { error: 'status command exited 1: connection refused' };
    }
    const shown = [...this.runs].reverse().find((r) => r.visibleAt <= this.world.now);
    const run: AdapterRun | null = shown ? { name: shown.name, sha: shown.sha, phase: shown.phase, ...(shown.message !== undefined ? { message: shown.message } : {}) } : null;
    const status: AdapterStatus = {
      targetSha: this.targetSha,
      deployedSha: this.deployedSha,
      run,
      mirror: { ...this.adapterMirror },
    };
    return { status };
  }

  /**
   * The trigger command: the control plane receives it now, the command returns `sendMs` later (the
   * world's clock moves on), and its run shows in the status `lagMs` after that. `seenRun` is the
   * run the status showed to the step that decided the send (kept to explain a second send).
   */
  trigger(sha: string, snapshotRef: string, attempt: number, seenRun: string | null = null): { runName: string } | { error: string } {
    const fails = this.triggerFailures > 0;
    if (fails) this.triggerFailures--;
    if (fails && !this.startsAnyway) {
      this.world.now += this.sendMs;
      return { error: 'trigger command exited 2: rejected' };
    }
    const name = this.start(sha, snapshotRef, attempt, seenRun);
    this.world.now += this.sendMs;
    return fails ? { error: 'trigger command timed out' } : { runName: name };
  }

  private start(sha: string, snapshotRef: string, attempt: number, seenRun: string | null): string {
    const name = `run-${this.runs.length + 1}`;
    const shownAfterMs = this.sendMs + this.lagMs;
    this.received.push({ seq: this.world.seq++, at: this.world.now, sha, attempt, snapshotRef, run: name, shownAfterMs, seenRun });
    this.runs.push({ name, sha, attempt, phase: 'Pending', visibleAt: this.world.now + shownAfterMs });
    return name;
  }

  private newest(): FakeRun | undefined {
    const r = this.runs[this.runs.length - 1];
    return r && (r.phase === 'Pending' || r.phase === 'Running') ? r : undefined;
  }

  progress(): void {
    const r = this.newest();
    if (r) r.phase = 'Running';
  }

  /**
   * The newest run succeeds (or, with `older`, the run that many before it, if it is still going: an
   * earlier run finishing late): the control plane targets its sha, deploys it (unless `deploys` is
   * false: the deploy lags, see `deploy`), and publishes a GitOps commit into the mirror, pending
   * until flushed.
   */
  succeed(older = 0, deploys = true): void {
    const r = older === 0 ? this.newest() : this.runs[this.runs.length - 1 - older];
    if (!r || (r.phase !== 'Pending' && r.phase !== 'Running')) return;
    r.phase = 'Succeeded';
    this.targetSha = r.sha;
    if (deploys) this.deployedSha = r.sha;
    this.world.mirror.publish(this.world.freshGitopsSha());
  }

  /** The lagging deploy of the target catches up. */
  deploy(): void {
    this.deployedSha = this.targetSha;
  }

  fail(): void {
    const r = this.newest();
    if (!r) return;
    r.phase = 'Failed';
    r.message = 'step build exited 1';
  }

  /** Everything healthy and immediate from now on. */
  heal(): void {
    this.statusErrors = 0;
    this.triggerFailures = 0;
    this.sendMs = 0;
    this.lagMs = 0;
    for (const r of this.runs) r.visibleAt = Math.min(r.visibleAt, this.world.now);
  }
}

export class FakeMirror {
  /** refs/mirror-stage/<branch>: the branch tip as git-mirror sync cached it. */
  tip: string | null = null;
  readonly present = new Set<string>();
  /** The next n looks fail. */
  errors = 0;
  /** The failing looks are a failed git-mirror sync (MirrorSyncFailed) rather than an unreadable mirror. */
  syncFails = false;
  /** The mirror's GitOps commit (refs/heads/gitops/demo; null: nothing published). */
  gitopsSha: string | null = null;
  /** What the upstream was last confirmed to hold (refs/mirror-stage/gitops/demo; null: never). */
  cacheSha: string | null = null;
  /** The next n git-mirror flushes fail (transiently: nothing is confirmed upstream). */
  flushFailures = 0;

  /** The GitOps ref as the cache says now, computed as observation does from the ref listing. */
  gitops(): GitopsView {
    const refs = new Map<string, string>();
    if (this.gitopsSha !== null) refs.set(GITOPS_REF, this.gitopsSha);
    if (this.cacheSha !== null) refs.set(GITOPS_CACHE_REF, this.cacheSha);
    const g = gitopsObserved(refs, GITOPS_REF);
    return { ref: g.ref, pendingFlush: g.pendingFlush, githubInSync: g.githubInSync };
  }

  /** A commit lands in the mirror's GitOps ref (the control plane publishes): pending until flushed. */
  publish(sha: string): void {
    this.gitopsSha = sha;
  }

  /** git-mirror flush of the GitOps ref: fast-forwards upstream and records it in the cache, or fails and changes nothing. */
  flush(): { ok: boolean } | { error: string } {
    if (this.flushFailures > 0) {
      this.flushFailures--;
      return { error: 'git push: connection reset by peer' };
    }
    this.cacheSha = this.gitopsSha;
    return { ok: true };
  }

  /** As runner/pass-io.ts builds it from the observation (and the pass from a failed sync). */
  view(): MirrorView {
    if (this.errors > 0) {
      this.errors--;
      return this.syncFails ? { error: 'git-mirror sync of mirror demo failed: fetch timed out', reason: Reason.MirrorSyncFailed } : { error: 'git ls-remote: mirror unreachable' };
    }
    if (this.tip === null) return { tip: null, snapshotRef: '', snapshotPresent: false, gitops: { ref: GITOPS_REF, pendingFlush: false, githubInSync: false } };
    return { tip: this.tip, snapshotRef: snapshotRefOf(this.tip), snapshotPresent: this.present.has(this.tip), gitops: this.gitops() };
  }
}

/** One git-mirror flush a pass carried out for a flush action. */
export interface Flushed {
  readonly seq: number;
  readonly at: number;
  /** The action it carried out. */
  readonly action: Extract<Action, { kind: 'flush' }>;
  /** The mirror's GitOps commit it pushed. */
  readonly gitopsSha: string | null;
  readonly ok: boolean;
}

/** One persisted write, with what produced it. */
export interface Persisted {
  readonly seq: number;
  readonly at: number;
  readonly prev: StateRecord | undefined;
  readonly next: StateRecord;
  readonly transitions: readonly Transition[];
  /**
   * The step that produced the write (at `now`; the write may land later, after another pass's
   * slow send moved the clock on), or undefined for an afterTrigger write.
   */
  readonly step?: {
    readonly now: number;
    readonly mirror: MirrorView;
    readonly status: StatusView | undefined;
    /** The mirror cache's GitOps ref as it really was when the step was computed (after the status was read). */
    readonly cache: GitopsView;
    readonly result: Step;
  };
}

export type PassPoint = 'stepped' | 'persisted' | 'triggered' | 'flushed';
/**
 * Where a pass dies: after computing its step (nothing written), after persisting its step (the
 * write-ahead), after the trigger ran (before afterTrigger landed), after the flush ran (before it
 * looked again).
 */
export type Crash = PassPoint | null;

export class World {
  now = T0;
  seq = 0;
  readonly cp: FakeControlPlane;
  readonly mirror = new FakeMirror();
  record: StateRecord | undefined = undefined;
  version = 0;
  readonly writes: Persisted[] = [];
  readonly flushes: Flushed[] = [];
  readonly pushed: string[] = [];
  readonly problems: string[] = [];
  /** The registry's view; a test may change it between passes (e.g. lower the state limits). */
  policy: Policy;
  /**
   * Runs once, in the next pass, between its look at the mirror and its adapter status read (the
   * real pass observes every follower first, then reads each one's status).
   */
  betweenLooks: (() => void) | undefined = undefined;
  private nextSha = 0;
  private nextGitops = 0;

  constructor(policy: Policy) {
    this.policy = policy;
    this.cp = new FakeControlPlane(this);
    // The GitOps ref starts published and confirmed upstream.
    this.mirror.publish(this.freshGitopsSha());
    this.mirror.flush();
  }

  freshSha(): string {
    return shaOf(this.nextSha++);
  }

  /** A distinct commit of the GitOps branch (never a source sha). */
  freshGitopsSha(): string {
    return shaOf(1_000_000 + this.nextGitops++);
  }

  push(sha: string, snapshotPresent: boolean): void {
    this.mirror.tip = sha;
    if (snapshotPresent) this.mirror.present.add(sha);
    if (!this.pushed.includes(sha)) this.pushed.push(sha);
  }

  /** Compare-and-swap: only a writer that read the current version wins. */
  cas(version: number, next: StateRecord, transitions: readonly Transition[], stepInfo?: Persisted['step']): number | undefined {
    if (version !== this.version) return undefined;
    const prev = this.record;
    this.checkRecord(next);
    // Frozen: a step that mutated its `prev` argument would throw here.
    this.record = deepFreeze(structuredClone(next));
    this.version++;
    this.writes.push({ seq: this.seq++, at: this.now, prev, next: this.record, transitions, ...(stepInfo ? { step: stepInfo } : {}) });
    return this.version;
  }

  checkRecord(r: StateRecord): void {
    const parsed = StateRecordSchema.safeParse(JSON.parse(JSON.stringify(r)));
    if (!parsed.success) this.problems.push(`record does not parse: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (r.history.length > this.policy.historyLimit) this.problems.push(`history ${r.history.length} > historyLimit ${this.policy.historyLimit}`);
    if (r.triggered.length > this.policy.triggeredLimit) this.problems.push(`triggered ${r.triggered.length} > triggeredLimit ${this.policy.triggeredLimit}`);
  }

  /**
   * One pass over the follower, as the caller contract says: read, look, step, persist (CAS), and
   * for a trigger action: trigger, afterTrigger, persist. A lost CAS re-reads and re-steps: every
   * step's record (a re-send changes inFlight.sentAt) is written before its action is carried out,
   * so of two passes that decided the same send only the CAS winner sends. For a flush action, as
   * runner/pass.ts `follow` does: git-mirror flush once, look at the mirror again and follow once
   * more (that second look carries out a trigger, but never a second flush). At the look that first
   * sees the in-flight sha's run succeeded, the mirror is looked at again, so a publish in between is seen.
   */
  *pass(flushed = false): Generator<PassPoint, void, void> {
    for (let conflicts = 0; conflicts < 6; conflicts++) {
      const prev = this.record;
      const version = this.version;
      const now = this.now;
      const first = this.mirror.view();
      const between = this.betweenLooks;
      this.betweenLooks = undefined;
      between?.();
      const status = this.policy.enabled && !('error' in first) && first.tip !== null ? this.cp.status() : undefined;
      // As runner/pass.ts: the mirror is read again at the look that first sees the own run succeeded.
      const mirror = status !== undefined && runJustSucceeded(prev, status) ? this.mirror.view() : first;
      const cache = this.mirror.gitops();
      const s = step(prev, mirror, status, this.policy, now);
      this.checkRecord(s.next);
      yield 'stepped';
      const mine = this.cas(version, s.next, s.transitions, { now, mirror, status, cache, result: s });
      if (mine === undefined) continue;
      yield 'persisted';
      if (s.action.kind === 'flush') {
        if (flushed) return;
        const gitopsSha = this.mirror.gitopsSha;
        const result = this.mirror.flush();
        this.flushes.push({ seq: this.seq++, at: this.now, action: s.action, gitopsSha, ok: 'ok' in result });
        yield 'flushed';
        yield* this.pass(true);
        return;
      }
      if (s.action.kind !== 'trigger') return;
      const seen = status && !('error' in status) ? (status.status.run?.name ?? null) : null;
      const result = this.cp.trigger(s.action.sha, s.action.snapshotRef, s.action.attempt, seen);
      yield 'triggered';
      const after = afterTrigger(s.next, result, this.policy, this.now);
      if (this.cas(mine, after.next, after.transitions) !== undefined) return;
      // Lost the race after the trigger: re-read and decide again.
    }
  }

  /** A sequential pass that dies at `crash` (or completes). */
  runPass(crash: Crash): void {
    for (const point of this.pass()) if (point === crash) return;
  }

  /**
   * Two overlapping passes: both compute their step from the same persisted record, then advance
   * in the order `schedule` gives (true: the first pass), the rest of each in turn.
   */
  runOverlap(crash1: Crash, crash2: Crash, schedule: readonly boolean[]): void {
    const g = [this.pass(), this.pass()];
    const crash = [crash1, crash2];
    const alive = [true, true];
    const advance = (i: number) => {
      if (!alive[i]) return;
      const r = g[i]!.next();
      if (r.done || r.value === crash[i]) alive[i] = false;
    };
    advance(0);
    advance(1);
    for (const first of schedule) advance(first ? 0 : 1);
    while (alive[0]) advance(0);
    while (alive[1]) advance(1);
  }

  /** The overlapping passes with the loser re-stepping only after the winner's pass is over. */
  runOverlapSerial(crash1: Crash, crash2: Crash): void {
    this.runOverlap(crash1, crash2, []);
  }

  transitionsOf(sha: string, to: string, beforeSeq: number): Persisted[] {
    return this.writes.filter((w) => w.seq < beforeSeq && w.transitions.some((t) => t.sha === sha && t.to === to));
  }
}
