import type { AdapterStatus } from './adapters/contract.ts';
import { Decision, Phase, Reason } from './phases.ts';
import type { StateRecord, Transition } from './state-record.ts';
import { emptyRecord } from './state-record.ts';

// The follower state machine (SPEC §5), pure: no Kubernetes, no processes, no files, no clock.
// One call to `step` is one look at one follower: it takes the previous record, what the mirror and
// the adapter say now, and returns the next record, the decision, and at most one action. The caller
// persists the next record (compare-and-swap) BEFORE carrying out a trigger action: that record is
// the write-ahead that makes a crash never trigger a sha twice.

export type CloseoutCheckName = 'runSucceeded' | 'deployedShaMatches' | 'mirrorFlushed' | 'githubInSync';

/** What the registry says about one follower, in the units the machine uses. */
export interface Policy {
  readonly enabled: boolean;
  readonly budgetMs: number;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly checks: readonly CloseoutCheckName[];
  readonly historyLimit: number;
  readonly triggeredLimit: number;
  /**
   * How long a send may still be under way (adapter timeoutSeconds + statusLagSeconds): a write-ahead
   * whose send is not confirmed by the adapter is sent again only after this, so a pass that is still
   * sending, or an adapter whose status lags within its declared bound, never causes a second send.
   */
  readonly unconfirmedGraceMs: number;
  /**
   * How long after a command returned its run may still not show in the adapter's status
   * (statusLagSeconds): a trigger that reported a failure is retried only after this, so a run it
   * started anyway is seen, and followed, before a second one is sent.
   */
  readonly statusLagMs: number;
}

/** The follower's GitOps ref as the mirror cache says: published but not yet confirmed upstream, or in sync. */
export interface GitopsView {
  readonly ref: string;
  readonly pendingFlush: boolean;
  readonly githubInSync: boolean;
}

/** The mirror cache's view of the follower's branch and GitOps ref, or why it could not be read or synced. */
export type MirrorView =
  | {
      readonly tip: string | null;
      readonly snapshotRef: string;
      readonly snapshotPresent: boolean;
      readonly gitops: GitopsView;
    }
  | { readonly error: string; readonly reason?: typeof Reason.MirrorSyncFailed };

/** The adapter's status, or why it could not be read. */
export type StatusView = { readonly status: AdapterStatus } | { readonly error: string };

type Action =
  | { readonly kind: 'none' }
  | { readonly kind: 'trigger'; readonly sha: string; readonly snapshotRef: string; readonly attempt: number }
  /** The run of `sha` succeeded and published `ref` into the mirror: push it upstream (git-mirror flush). */
  | { readonly kind: 'flush'; readonly sha: string; readonly ref: string };

export interface Step {
  readonly decision: Decision;
  readonly reason: Reason;
  readonly message: string;
  readonly next: StateRecord;
  readonly action: Action;
  readonly transitions: readonly Transition[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const NONE: Action = { kind: 'none' };

/** Builds the next record while remembering every phase change as a transition. */
class Draft {
  readonly r: StateRecord;
  readonly transitions: Transition[] = [];
  private readonly now: number;
  private readonly policy: Policy;

  constructor(prev: StateRecord | undefined, now: number, policy: Policy) {
    // A record is JSON by construction (it is stored as JSON): its own round trip is the cheapest deep copy.
    this.r = prev ? (JSON.parse(JSON.stringify(prev)) as StateRecord) : emptyRecord(iso(now));
    this.now = now;
    this.policy = policy;
    // Limits lowered in the registry apply at once, not only at the next transition.
    this.r.history = this.r.history.slice(-policy.historyLimit);
    this.r.triggered = this.r.triggered.slice(-policy.triggeredLimit);
  }

  phase(to: Phase, reason: Reason | string, sha: string | null, message = ''): void {
    if (this.r.phase !== to) {
      const t: Transition = { at: iso(this.now), from: this.r.phase, to, sha, reason, detail: message };
      this.transitions.push(t);
      this.r.history = [...this.r.history, t].slice(-this.policy.historyLimit);
    }
    this.r.phase = to;
    this.r.reason = reason;
    this.r.message = message;
  }

  done(decision: Decision, reason: Reason, message: string, action: Action = NONE): Step {
    this.r.updatedAt = iso(this.now);
    return { decision, reason, message, next: this.r, action, transitions: this.transitions };
  }
}

// Which closeout checks do not hold yet for `sha`. The run checks come from the adapter; the mirror
// checks from the mirror cache itself (pendingFlush=false, githubInSync=true), never from the adapter.
export function pendingChecks(
  checks: readonly CloseoutCheckName[],
  status: AdapterStatus,
  sha: string,
  ownRun: boolean,
  gitops: GitopsView,
): CloseoutCheckName[] {
  const holds: Record<CloseoutCheckName, boolean> = {
    runSucceeded: ownRun && status.run?.sha === sha && status.run.phase === 'Succeeded',
    deployedShaMatches: status.deployedSha === sha,
    mirrorFlushed: !gitops.pendingFlush,
    githubInSync: gitops.githubInSync,
  };
  return checks.filter((c) => !holds[c]);
}

function writeAhead(
  d: Draft,
  sha: string,
  snapshotRef: string,
  attempt: number,
  reason: Reason,
  policy: Policy,
  now: number,
  status: AdapterStatus,
): Step {
  const r = d.r;
  d.phase(Phase.PendingTrigger, reason, sha);
  r.inFlight = {
    sha,
    snapshotRef,
    attempt,
    runName: null,
    startedAt: iso(now),
    sentAt: iso(now),
    triggeredAt: null,
    deadline: iso(now + policy.budgetMs),
    runDoneAt: null,
    flushedAt: null,
  };
  r.triggered = [...r.triggered.filter((s) => s !== sha), sha].slice(-policy.triggeredLimit);
  const same = r.attempts?.sha === sha;
  // Every run of this sha the adapter shows now predates this attempt: never take one for its own.
  const before = same ? r.attempts!.earlierRuns : [];
  const visible = status.run?.sha === sha ? [status.run.name] : [];
  const earlierRuns = [...new Set([...before, ...visible])].slice(-policy.maxAttempts - 1);
  r.attempts = {
    sha,
    count: attempt,
    startedAt: iso(now),
    lastFailedAt: same ? r.attempts!.lastFailedAt : null,
    lastRunName: same ? r.attempts!.lastRunName : null,
    earlierRuns,
  };
  r.lastTriggeredSha = sha;
  r.timings = {
    sha,
    observeToTriggerMs: null,
    triggerToRunDoneMs: null,
    runDoneToFlushedMs: null,
    budgetMs: policy.budgetMs,
  };
  d.phase(Phase.Triggering, reason, sha, `attempt ${attempt} of ${policy.maxAttempts}`);
  return d.done(
    Decision.PendingTrigger,
    reason,
    `trigger ${sha.slice(0, 12)} (attempt ${attempt}/${policy.maxAttempts})`,
    { kind: 'trigger', sha, snapshotRef, attempt },
  );
}

function fail(d: Draft, reason: Reason, message: string, now: number): void {
  const sha = d.r.inFlight?.sha ?? null;
  if (d.r.attempts && d.r.attempts.sha === sha) {
    d.r.attempts.lastFailedAt = iso(now);
    // The failed attempt's run: a later attempt of the same sha must never mistake it for its own.
    d.r.attempts.lastRunName = d.r.inFlight?.runName ?? d.r.attempts.lastRunName;
    if (d.r.inFlight?.runName && !d.r.attempts.earlierRuns.includes(d.r.inFlight.runName)) {
      d.r.attempts.earlierRuns = [...d.r.attempts.earlierRuns, d.r.inFlight.runName];
    }
  }
  d.phase(Phase.Failed, reason, sha, message);
  d.r.inFlight = null;
}

/** Follows an in-flight sha whose branch did not move. Returns undefined when the sha is no longer in flight. */
function followInFlight(
  d: Draft,
  status: AdapterStatus,
  gitops: GitopsView,
  policy: Policy,
  now: number,
): Step | undefined {
  const f = d.r.inFlight!;
  const past = now > Date.parse(f.deadline);
  // A run of this sha that is not the run of an earlier, failed attempt.
  const earlier = d.r.attempts?.sha === f.sha ? [...d.r.attempts.earlierRuns, d.r.attempts.lastRunName] : [];
  const ours = (run: AdapterStatus['run']) =>
    run !== null && run.sha === f.sha && (f.runName !== null ? run.name === f.runName : !earlier.includes(run.name));
  if (d.r.phase === Phase.Triggering && f.runName === null && f.triggeredAt === null) {
    // A write-ahead without a confirmed send (its pass died, or is still sending). The adapter is
    // the authority: if it knows a run of this attempt, the send happened; follow it.
    const known = ours(status.run) || (f.attempt === 1 && status.targetSha === f.sha);
    if (known) {
      f.runName = ours(status.run) ? status.run!.name : null;
      f.triggeredAt = iso(now);
      d.phase(
        Phase.ClosingOut,
        Reason.TriggerAdopted,
        f.sha,
        'the adapter already knows this run: followed, not sent again',
      );
    } else if (past) {
      fail(d, Reason.BudgetExceeded, `no confirmed trigger before the deadline ${f.deadline}`, now);
      return d.done(Decision.Blocked, Reason.BudgetExceeded, d.r.message);
    } else if (now < Date.parse(f.sentAt) + policy.unconfirmedGraceMs) {
      const at = iso(Date.parse(f.sentAt) + policy.unconfirmedGraceMs);
      return d.done(
        Decision.InFlight,
        Reason.Waiting,
        `trigger of ${f.sha.slice(0, 12)} not confirmed by the adapter yet; it is sent again at ${at} if still unknown`,
      );
    } else {
      // Claimed in the record (a compare-and-swap write) before it is sent, so of two passes only one sends.
      f.sentAt = iso(now);
      return d.done(
        Decision.InFlight,
        Reason.TriggerUnconfirmed,
        `trigger of ${f.sha.slice(0, 12)} unconfirmed by the adapter: sending it (attempt ${f.attempt})`,
        {
          kind: 'trigger',
          sha: f.sha,
          snapshotRef: f.snapshotRef,
          attempt: f.attempt,
        },
      );
    }
  }
  const run = ours(status.run) ? status.run : null;
  if (run && f.runName === null) f.runName = run.name;
  if (run && (run.phase === 'Succeeded' || run.phase === 'Failed') && f.runDoneAt === null) f.runDoneAt = iso(now);
  if (run?.phase === 'Failed') {
    fail(d, Reason.RunFailed, `run ${run.name} failed${run.message ? `: ${run.message}` : ''}`, now);
    return d.done(Decision.InFlight, Reason.RunFailed, d.r.message);
  }
  const pending = pendingChecks(policy.checks, status, f.sha, run !== null, gitops);
  if (
    !pending.includes('mirrorFlushed') &&
    !pending.includes('githubInSync') &&
    f.runDoneAt !== null &&
    f.flushedAt === null
  )
    f.flushedAt = iso(now);
  if (pending.length === 0) {
    const t = d.r.timings;
    if (t && t.sha === f.sha) {
      const at = (s: string | null) => (s ? Date.parse(s) : null);
      const diff = (a: number | null, b: number | null) => (a !== null && b !== null ? a - b : null);
      t.triggerToRunDoneMs = diff(at(f.runDoneAt) ?? now, at(f.triggeredAt));
      t.runDoneToFlushedMs = diff(at(f.flushedAt) ?? now, at(f.runDoneAt) ?? now);
    }
    d.r.lastSucceededSha = f.sha;
    d.r.inFlight = null;
    d.phase(Phase.Succeeded, Reason.ClosedOut, f.sha, `closed out: ${policy.checks.join(', ')}`);
    return d.done(Decision.InFlight, Reason.ClosedOut, d.r.message);
  }
  if (past) {
    fail(
      d,
      Reason.BudgetExceeded,
      `closeout not complete after ${policy.budgetMs / 1000}s: waiting for ${pending.join(', ')}`,
      now,
    );
    return d.done(Decision.InFlight, Reason.BudgetExceeded, d.r.message);
  }
  if (d.r.phase === Phase.Triggering) d.phase(Phase.ClosingOut, Reason.Waiting, f.sha);
  // The run published its GitOps commit into the mirror; closeout needs it upstream: flush it.
  if (
    run?.phase === 'Succeeded' &&
    gitops.pendingFlush &&
    policy.checks.some((c) => c === 'mirrorFlushed' || c === 'githubInSync')
  ) {
    return d.done(
      Decision.InFlight,
      Reason.FlushPending,
      `${run.name} succeeded; ${gitops.ref} is not upstream yet: flushing it`,
      { kind: 'flush', sha: f.sha, ref: gitops.ref },
    );
  }
  return d.done(Decision.InFlight, Reason.Waiting, `${f.runName ?? 'run'}: waiting for ${pending.join(', ')}`);
}

// A trigger that reported a failure (it timed out, printed too much, or printed what the contract
// does not allow) may still have started its run. When the adapter shows that run (or, for a first
// attempt, targets the sha), the sha is in flight after all: it is followed to its closeout —
// Succeeded with its flush, or Failed by its run or its budget — and never sent again, nor taken for
// a Noop. Returns undefined when the record is not such a failure, or the adapter shows no run of it.
function adoptAfterTriggerFailed(
  d: Draft,
  tip: string,
  mirror: Extract<MirrorView, { tip: string | null }>,
  status: AdapterStatus,
  policy: Policy,
  now: number,
): Step | undefined {
  const r = d.r;
  const a = r.attempts;
  if (r.phase !== Phase.Failed || r.reason !== Reason.TriggerFailed || !a || a.sha !== tip || r.inFlight)
    return undefined;
  const earlier = [...a.earlierRuns, a.lastRunName];
  const run = status.run !== null && status.run.sha === tip && !earlier.includes(status.run.name) ? status.run : null;
  if (!run && !(a.count === 1 && status.targetSha === tip)) {
    // The control plane targets the sha, but no run of this attempt shows yet: it may still show
    // within the adapter's statusLagSeconds. Until then the sha is not called up to date.
    const until = a.lastFailedAt ? Date.parse(a.lastFailedAt) + policy.statusLagMs : now;
    if (status.targetSha !== tip || now >= until) return undefined;
    return d.done(
      Decision.Blocked,
      Reason.Waiting,
      `the trigger of ${tip.slice(0, 12)} (attempt ${a.count}) failed and the control plane targets it: waiting ` +
        `until ${iso(until)} (statusLagSeconds) for a run it started to show`,
    );
  }
  // The budget counts from the attempt's write-ahead (a record of an older version has only its failure time).
  const startedAt = a.startedAt ?? a.lastFailedAt ?? iso(now);
  r.inFlight = {
    sha: tip,
    snapshotRef: mirror.snapshotRef,
    attempt: a.count,
    runName: run?.name ?? null,
    startedAt,
    sentAt: startedAt,
    triggeredAt: a.lastFailedAt ?? iso(now),
    deadline: iso(Date.parse(startedAt) + policy.budgetMs),
    runDoneAt: null,
    flushedAt: null,
  };
  a.lastFailedAt = null;
  d.phase(
    Phase.ClosingOut,
    Reason.TriggerAdopted,
    tip,
    `the trigger reported a failure, but the control plane shows ${run ? `run ${run.name}` : 'this sha as its target'}: ` +
      'followed to closeout, not sent again',
  );
  return followInFlight(d, status, mirror.gitops, policy, now);
}

// One look at one follower. See the file comment for the contract with the caller.
export function step(
  prev: StateRecord | undefined,
  mirror: MirrorView,
  status: StatusView | undefined,
  policy: Policy,
  now: number,
): Step {
  const d = new Draft(prev, now, policy);
  const r = d.r;
  if (!policy.enabled) return d.done(Decision.Blocked, Reason.Disabled, 'disabled in the registry (enabled: false)');
  if ('error' in mirror || mirror.tip === null) {
    const [reason, why] =
      'error' in mirror
        ? [mirror.reason ?? Reason.MirrorUnreachable, mirror.error]
        : [
            Reason.BranchMissing,
            'the branch is not in the mirror cache (refs/mirror-stage/): run branch-follower git-mirror sync ' +
              '--confirm --wait',
          ];
    // Nothing waits forever: an in-flight sha past its deadline fails even while the mirror is out.
    if (r.inFlight && now > Date.parse(r.inFlight.deadline))
      fail(d, Reason.BudgetExceeded, `closeout not complete by ${r.inFlight.deadline}; ${why}`, now);
    return d.done(Decision.Blocked, reason, why);
  }
  const tip = mirror.tip;
  if (r.observedSha !== tip) {
    r.observedSha = tip;
    r.observedAt = new Date(now).toISOString();
  }
  if (r.phase === Phase.Succeeded) d.phase(Phase.Observed, Reason.NextPass, tip);
  if (!status || 'error' in status) {
    if (r.inFlight && now > Date.parse(r.inFlight.deadline)) {
      fail(
        d,
        Reason.BudgetExceeded,
        `closeout not complete by ${r.inFlight.deadline}; the adapter status failed: ${status?.error ?? 'not asked'}`,
        now,
      );
      return d.done(Decision.Blocked, Reason.BudgetExceeded, r.message);
    }
    return d.done(Decision.Blocked, Reason.AdapterStatusFailed, status?.error ?? 'adapter status not asked');
  }
  r.targetSha = status.status.targetSha;

  if (r.inFlight && r.inFlight.sha !== tip) {
    const old = r.inFlight.sha;
    r.inFlight = null;
    d.phase(Phase.Superseded, Reason.BranchAdvanced, old, `superseded by ${tip}`);
  } else if (r.inFlight) {
    const followed = followInFlight(d, status.status, mirror.gitops, policy, now);
    if (followed) return followed;
  }

  const adopted = adoptAfterTriggerFailed(d, tip, mirror, status.status, policy, now);
  if (adopted) return adopted;

  if (tip === status.status.targetSha) {
    d.phase(Phase.Noop, Reason.UpToDate, tip);
    return d.done(Decision.Noop, Reason.UpToDate, `the control plane targets ${tip.slice(0, 12)}`);
  }
  if (r.triggered.includes(tip)) {
    const a = r.attempts;
    if (!a || a.sha !== tip || r.phase !== Phase.Failed) {
      return d.done(
        Decision.Blocked,
        Reason.AlreadyTriggered,
        `${tip.slice(0, 12)} was triggered before; a sha is never triggered twice`,
      );
    }
    if (a.count >= policy.maxAttempts) {
      return d.done(
        Decision.Blocked,
        Reason.RetryBudgetExhausted,
        `${tip.slice(0, 12)} failed ${a.count} of ${policy.maxAttempts} attempts (retry.maxAttempts)`,
      );
    }
    // A trigger that reported a failure may have started its run anyway: the retry waits until that
    // run would show (statusLagSeconds), so it is followed rather than sent a second time.
    const lag = r.reason === Reason.TriggerFailed && policy.statusLagMs > policy.backoffMs;
    const retryAt = (a.lastFailedAt ? Date.parse(a.lastFailedAt) : now) + (lag ? policy.statusLagMs : policy.backoffMs);
    if (now < retryAt) {
      return d.done(
        Decision.Blocked,
        Reason.RetryBackoff,
        `retry ${a.count + 1} of ${tip.slice(0, 12)} at ${iso(retryAt)} ` +
          `(${lag ? "the adapter's statusLagSeconds: a run the failed trigger started shows by then" : 'retry.backoffSeconds'})`,
      );
    }
    if (!mirror.snapshotPresent)
      return d.done(
        Decision.Blocked,
        Reason.SnapshotMissing,
        `${mirror.snapshotRef} is not in the mirror: run branch-follower git-mirror sync --confirm --wait`,
      );
    return writeAhead(d, tip, mirror.snapshotRef, a.count + 1, Reason.Retry, policy, now, status.status);
  }
  if (!mirror.snapshotPresent)
    return d.done(
      Decision.Blocked,
      Reason.SnapshotMissing,
      `${mirror.snapshotRef} is not in the mirror: run branch-follower git-mirror sync --confirm --wait`,
    );
  return writeAhead(d, tip, mirror.snapshotRef, 1, Reason.NewSha, policy, now, status.status);
}

// Whether nothing can have changed for a follower since its last look: its branch did not move, it
// has nothing in flight, and its tip was triggered before (and is not a failed attempt that may be
// retried). Whatever the adapter said now, `step` would take no action — a remembered sha is never
// sent again — so the pass does not ask it, and the record stays as it is (a closed-out sha stays
// Succeeded until the branch moves). A tip this follower never triggered (the control plane already
// targeted it) is not settled: if the control plane moves away from it, the tip is triggered once.
export function settled(prev: StateRecord | undefined, mirror: MirrorView, now: number): Step | undefined {
  if (!prev || 'error' in mirror || mirror.tip === null) return undefined;
  const tip = mirror.tip;
  if (prev.inFlight !== null || prev.observedSha !== tip || !prev.triggered.includes(tip)) return undefined;
  if (prev.phase === Phase.Failed && prev.attempts?.sha === tip) return undefined;
  if (prev.phase === Phase.PendingTrigger || prev.phase === Phase.Triggering || prev.phase === Phase.ClosingOut)
    return undefined;
  return {
    decision: Decision.Noop,
    reason: Reason.Settled,
    message: `${tip.slice(0, 12)} was triggered before and the branch has not moved since: the adapter is not asked`,
    next: { ...prev, updatedAt: iso(now) },
    action: NONE,
    transitions: [],
  };
}

// A run that succeeded between the mirror read and the status read has published its GitOps commit
// since: at the look that first sees the in-flight sha's run succeeded, the mirror is read again, so
// the mirror checks never come from before the publish. Later looks read the mirror after it anyway.
export function runJustSucceeded(prev: StateRecord | undefined, status: StatusView): boolean {
  const f = prev?.inFlight;
  if (!f || f.runDoneAt !== null || !('status' in status)) return false;
  const run = status.status.run;
  return run !== null && run.sha === f.sha && run.phase === 'Succeeded';
}

/** The record after the trigger action: ClosingOut with the run, or Failed (retryable within the budget). */
export function afterTrigger(
  record: StateRecord,
  result: { runName: string } | { error: string },
  policy: Policy,
  now: number,
): { next: StateRecord; transitions: readonly Transition[] } {
  const d = new Draft(record, now, policy);
  const f = d.r.inFlight;
  if (!f) throw new Error('afterTrigger: no sha in flight');
  if ('error' in result) {
    fail(d, Reason.TriggerFailed, result.error, now);
  } else {
    f.runName = result.runName;
    f.triggeredAt = iso(now);
    if (d.r.timings && d.r.timings.sha === f.sha && d.r.observedAt)
      d.r.timings.observeToTriggerMs = now - Date.parse(d.r.observedAt);
    d.phase(Phase.ClosingOut, Reason.Waiting, f.sha, `run ${result.runName}`);
  }
  d.r.updatedAt = iso(now);
  return { next: d.r, transitions: d.transitions };
}
