// The phases of a follower (SPEC §5) and the reasons a pass gives. Kept as constants so the state
// machine, the CLI and the docs speak the same words.

export const Phase = {
  /** The branch tip was read from the mirror; nothing decided yet. */
  Observed: 'Observed',
  /** The control plane already targets the branch tip: nothing to do. */
  Noop: 'Noop',
  /** The tip differs from the target and may be triggered. */
  PendingTrigger: 'PendingTrigger',
  /** Write-ahead recorded; the trigger is being (or was being) sent. */
  Triggering: 'Triggering',
  /** Triggered; following the run to closeout within the budget. */
  ClosingOut: 'ClosingOut',
  /** The run closed out: every closeout check held. */
  Succeeded: 'Succeeded',
  /** The trigger or the run failed, or the budget ran out. */
  Failed: 'Failed',
  /** The branch advanced while this sha was in flight; the newer sha goes on. */
  Superseded: 'Superseded',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Dry-run decisions add Blocked: the pass will not act, and says why. */
export const Decision = {
  Noop: 'Noop',
  PendingTrigger: 'PendingTrigger',
  Blocked: 'Blocked',
  /** A sha is in flight; the pass follows it. */
  InFlight: 'InFlight',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

export const Reason = {
  /** The follower is disabled in the registry. */
  Disabled: 'Disabled',
  /** The git mirror could not be read. */
  MirrorUnreachable: 'MirrorUnreachable',
  /** The branch does not exist in the mirror. */
  BranchMissing: 'BranchMissing',
  /** The immutable snapshot ref of the tip is not in the mirror yet (run git-mirror sync). */
  SnapshotMissing: 'SnapshotMissing',
  /** git-mirror sync of the follower's mirror failed, so its cache may be stale. */
  MirrorSyncFailed: 'MirrorSyncFailed',
  /** The run succeeded and published into the mirror's GitOps ref, which is not upstream yet: the pass flushes it. */
  FlushPending: 'FlushPending',
  /** The adapter's status command failed. */
  AdapterStatusFailed: 'AdapterStatusFailed',
  /** This sha was triggered before; it is never triggered again. */
  AlreadyTriggered: 'AlreadyTriggered',
  /** The sha failed as often as retry.maxAttempts allows. */
  RetryBudgetExhausted: 'RetryBudgetExhausted',
  /** The sha failed; the next attempt waits retry.backoffSeconds. */
  RetryBackoff: 'RetryBackoff',
  /** The control plane already targets the tip. */
  UpToDate: 'UpToDate',
  /** The tip differs from the control plane's target. */
  NewSha: 'NewSha',
  /** A retry of a failed sha, within the retry budget. */
  Retry: 'Retry',
  /** A write-ahead record without a confirmed run: the adapter did not know the run, so it is sent. */
  TriggerUnconfirmed: 'TriggerUnconfirmed',
  /** The adapter knew the run of a write-ahead record: it is followed, not sent again. */
  TriggerAdopted: 'TriggerAdopted',
  /** The trigger command failed. */
  TriggerFailed: 'TriggerFailed',
  /** The run failed. */
  RunFailed: 'RunFailed',
  /** Closeout did not complete within closeout.budgetSeconds. */
  BudgetExceeded: 'BudgetExceeded',
  /** Every closeout check held. */
  ClosedOut: 'ClosedOut',
  /** The run is still going, or a closeout check does not hold yet. */
  Waiting: 'Waiting',
  /** The branch advanced past the in-flight sha. */
  BranchAdvanced: 'BranchAdvanced',
  /** The follower's state record cannot be read; it is left as it is for a person to look at. */
  RecordUnreadable: 'RecordUnreadable',
  /** A pass after a success looks again (Succeeded → Observed). */
  NextPass: 'NextPass',
  /**
   * The branch has not moved since the follower's last look, nothing is in flight and the tip was triggered before:
   * whatever the adapter said, no action could follow, so it is not asked and the record stays as it is.
   */
  Settled: 'Settled',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
