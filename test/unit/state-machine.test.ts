import { describe, expect, it } from 'vitest';
import type { AdapterRun, AdapterStatus } from '../../runner/adapters/contract.ts';
import { Decision, Phase, Reason } from '../../runner/phases.ts';
import {
  afterTrigger,
  pendingChecks,
  settled,
  step,
  type CloseoutCheckName,
  type GitopsView,
  type MirrorView,
  type Policy,
  type Step,
  type StatusView,
} from '../../runner/state-machine.ts';
import { emptyRecord, StateRecordSchema, type StateRecord, type Transition } from '../../runner/state-record.ts';
import { deepFreeze, iso, snapshotRefOf, T0 } from '../helpers/machine-fixtures.ts';

// Example tests of the follower state machine (SPEC §5): one test per transition and per Reason.

const OLD = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);
const ALL_CHECKS: readonly CloseoutCheckName[] = [
  'runSucceeded',
  'deployedShaMatches',
  'mirrorFlushed',
  'githubInSync',
];
const BUDGET = 120_000;
const BACKOFF = 60_000;
/** adapters[].timeoutSeconds + statusLagSeconds: an unconfirmed send is repeated only this long after it. */
const GRACE = 40_000;

const policy: Policy = {
  enabled: true,
  budgetMs: BUDGET,
  maxAttempts: 2,
  backoffMs: BACKOFF,
  checks: ALL_CHECKS,
  historyLimit: 30,
  triggeredLimit: 50,
  unconfirmedGraceMs: GRACE,
  statusLagMs: 0,
};
const withPolicy = (over: Partial<Policy>): Policy => ({ ...policy, ...over });

/** The follower's GitOps ref in the mirror (its target entry's gitopsRef). */
const GITOPS_REF = 'refs/heads/gitops/jd01-demo';
/** The mirror cache's GitOps ref: by default the mirror's GitOps commit is confirmed upstream. */
const gitops = (o: Partial<GitopsView> = {}): GitopsView => ({
  ref: GITOPS_REF,
  pendingFlush: false,
  githubInSync: true,
  ...o,
});
/** Published by the run, not confirmed upstream yet (refs/heads/<gitops> != refs/mirror-stage/<gitops>). */
const PENDING: Partial<GitopsView> = { pendingFlush: true, githubInSync: false };
/** Nothing published into the GitOps ref (it is absent from the mirror). */
const UNPUBLISHED: Partial<GitopsView> = { pendingFlush: false, githubInSync: false };
const mirror = (tip: string | null, snapshotPresent = true, g: Partial<GitopsView> = {}): MirrorView => ({
  tip,
  snapshotRef: tip ? snapshotRefOf(tip) : '',
  snapshotPresent,
  gitops: gitops(g),
});
const run = (name: string, sha: string, phase: AdapterRun['phase'], message?: string): AdapterRun => ({
  name,
  sha,
  phase,
  ...(message !== undefined ? { message } : {}),
});
interface StatusOver {
  target?: string | null;
  deployed?: string | null;
  run?: AdapterRun | null;
  /**
   * The adapter's own word on the mirror. The contract still requires the field; the machine ignores
   * it (the mirror checks come from the mirror cache), so it only matters to the test proving that.
   */
  adapterMirror?: AdapterStatus['mirror'];
}
const status = (o: StatusOver = {}): StatusView => {
  const s: AdapterStatus = {
    targetSha: o.target === undefined ? OLD : o.target,
    deployedSha: o.deployed === undefined ? OLD : o.deployed,
    run: o.run ?? null,
    mirror: o.adapterMirror ?? { pendingFlush: false, githubInSync: true },
  };
  return { status: s };
};
/** Everything a closeout of `sha` needs. */
const closedOut = (sha: string, runName = 'run-1'): StatusView =>
  status({ target: sha, deployed: sha, run: run(runName, sha, 'Succeeded') });

// Every call goes through these: `prev` is deep-frozen (a mutation throws), compared before and
// after, every record produced must parse, and the reasons and phases seen are collected.
const seenReasons = new Set<string>();
const seenPhases = new Set<string>();
function noteAll(s: { reason?: string; next: StateRecord; transitions: readonly Transition[] }): void {
  if (s.reason) seenReasons.add(s.reason);
  seenReasons.add(s.next.reason);
  seenPhases.add(s.next.phase);
  for (const t of s.transitions) {
    seenReasons.add(t.reason);
    seenPhases.add(t.to);
  }
  expect(StateRecordSchema.safeParse(JSON.parse(JSON.stringify(s.next))).success).toBe(true);
}
function look(
  prev: StateRecord | undefined,
  m: MirrorView,
  st: StatusView | undefined,
  now: number,
  p: Policy = policy,
): Step {
  const before = structuredClone(prev);
  const s = step(prev === undefined ? undefined : deepFreeze(prev), m, st, p, now);
  expect(prev).toEqual(before);
  noteAll(s);
  return s;
}
function after(record: StateRecord, result: { runName: string } | { error: string }, now: number, p: Policy = policy) {
  const before = structuredClone(record);
  const out = afterTrigger(deepFreeze(record), result, p, now);
  expect(record).toEqual(before);
  noteAll(out);
  return out;
}

/** The write-ahead record of `sha` (attempt 1) written at `at`, the control plane targeting OLD. */
const writtenAhead = (sha = B, at = T0, p: Policy = policy) => look(undefined, mirror(sha), status(), at, p).next;
/** `sha` confirmed: ClosingOut with run-1, triggered at `at + 1s`. */
const closingOut = (sha = B, at = T0, p: Policy = policy) =>
  after(writtenAhead(sha, at, p), { runName: 'run-1' }, at + 1000, p).next;
/** `sha` Succeeded. */
const succeeded = (sha = B, at = T0) => look(closingOut(sha, at), mirror(sha), closedOut(sha), at + 10_000).next;
/** `sha` Failed on its first attempt (the trigger failed at `at + 1s`). */
const failedOnce = (sha = B, at = T0, p: Policy = policy) =>
  after(writtenAhead(sha, at, p), { error: 'trigger command exited 2' }, at + 1000, p).next;
const without = (r: StateRecord) => ({ ...r, updatedAt: '' });
/** Why step is Blocked (BranchMissing): the tip is read from the mirror cache, refs/mirror-stage/<branch>. */
const BRANCH_MISSING =
  'the branch is not in the mirror cache (refs/mirror-stage/): run branch-follower git-mirror sync --confirm --wait';
const SYNC_FAILED = 'git-mirror sync of mirror hwlab failed: git fetch exited 128: Connection timed out';
/** The pass's view of a follower whose mirror's git-mirror sync failed. */
const syncFailed: MirrorView = { error: SYNC_FAILED, reason: Reason.MirrorSyncFailed };

describe('Observed → Noop', () => {
  it('a tip equal to the adapter targetSha is Noop (UpToDate) with no action', () => {
    const s = look(undefined, mirror(A), status({ target: A, deployed: A }), T0);
    expect(s.decision).toBe(Decision.Noop);
    expect(s.reason).toBe(Reason.UpToDate);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.transitions).toEqual([
      { at: iso(T0), from: Phase.Observed, to: Phase.Noop, sha: A, reason: Reason.UpToDate, detail: '' },
    ]);
    expect(s.next).toMatchObject({
      phase: Phase.Noop,
      observedSha: A,
      observedAt: iso(T0),
      targetSha: A,
      inFlight: null,
      triggered: [],
      lastTriggeredSha: null,
    });
  });

  it('a Noop stays Noop without a new transition while the tip stays the target', () => {
    const first = look(undefined, mirror(A), status({ target: A }), T0).next;
    const s = look(first, mirror(A), status({ target: A }), T0 + 60_000);
    expect(s.decision).toBe(Decision.Noop);
    expect(s.transitions).toEqual([]);
    expect(s.next.history).toHaveLength(1);
    expect(s.next.observedAt).toBe(iso(T0));
  });
});

describe('Observed → PendingTrigger → Triggering (the write-ahead)', () => {
  it('a tip different from the target is written ahead and a trigger action is returned', () => {
    const s = look(undefined, mirror(B), status({ target: A }), T0);
    expect(s.decision).toBe(Decision.PendingTrigger);
    expect(s.reason).toBe(Reason.NewSha);
    expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 1 });
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.Observed, Phase.PendingTrigger, B, Reason.NewSha],
      [Phase.PendingTrigger, Phase.Triggering, B, Reason.NewSha],
    ]);
  });

  it(
    'the write-ahead record holds the sha, snapshot ref, attempt 1, deadline now+budget, and remembers the sha ' +
      'as triggered',
    () => {
      const now = T0 + 5_000;
      const s = look(undefined, mirror(B), status({ target: A }), now);
      expect(s.next.phase).toBe(Phase.Triggering);
      expect(s.next.inFlight).toEqual({
        sha: B,
        snapshotRef: snapshotRefOf(B),
        attempt: 1,
        runName: null,
        startedAt: iso(now),
        sentAt: iso(now),
        triggeredAt: null,
        deadline: iso(now + BUDGET),
        runDoneAt: null,
        flushedAt: null,
      });
      expect(s.next.triggered).toEqual([B]);
      expect(s.next.lastTriggeredSha).toBe(B);
      expect(s.next.attempts).toEqual({
        sha: B,
        count: 1,
        startedAt: iso(now),
        lastFailedAt: null,
        lastRunName: null,
        earlierRuns: [],
      });
      expect(s.next.timings).toMatchObject({ sha: B, budgetMs: BUDGET });
      expect(s.next.history.map((t) => t.to)).toEqual([Phase.PendingTrigger, Phase.Triggering]);
    },
  );

  it('a Noop follower whose branch moves is written ahead too (Noop → PendingTrigger → Triggering)', () => {
    const noop = look(undefined, mirror(A), status({ target: A }), T0).next;
    const s = look(noop, mirror(B), status({ target: A }), T0 + 1000);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 1 });
    expect(s.transitions.map((t) => [t.from, t.to])).toEqual([
      [Phase.Noop, Phase.PendingTrigger],
      [Phase.PendingTrigger, Phase.Triggering],
    ]);
  });

  it('a first look without a target (null) triggers the tip', () => {
    const s = look(undefined, mirror(B), status({ target: null, deployed: null }), T0);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 1 });
  });
});

describe('Triggering → ClosingOut (afterTrigger)', () => {
  it('a confirmed trigger moves to ClosingOut with the run name and the trigger time', () => {
    const wa = writtenAhead(B, T0);
    const out = after(wa, { runName: 'run-7' }, T0 + 2000);
    expect(out.next.phase).toBe(Phase.ClosingOut);
    expect(out.next.reason).toBe(Reason.Waiting);
    expect(out.next.inFlight).toMatchObject({
      sha: B,
      attempt: 1,
      runName: 'run-7',
      triggeredAt: iso(T0 + 2000),
      deadline: iso(T0 + BUDGET),
    });
    expect(out.next.timings?.observeToTriggerMs).toBe(2000);
    expect(out.transitions).toEqual([
      {
        at: iso(T0 + 2000),
        from: Phase.Triggering,
        to: Phase.ClosingOut,
        sha: B,
        reason: Reason.Waiting,
        detail: 'run run-7',
      },
    ]);
  });

  it(
    'a failed trigger is Failed (TriggerFailed): the sha leaves flight and the failure time is kept for ' +
      'the backoff',
    () => {
      const out = after(writtenAhead(B, T0), { error: 'trigger command exited 2' }, T0 + 1000);
      expect(out.next).toMatchObject({
        phase: Phase.Failed,
        reason: Reason.TriggerFailed,
        message: 'trigger command exited 2',
        inFlight: null,
      });
      // The trigger named no run: there is no failed run to remember.
      expect(out.next.attempts).toEqual({
        sha: B,
        count: 1,
        startedAt: iso(T0),
        lastFailedAt: iso(T0 + 1000),
        lastRunName: null,
        earlierRuns: [],
      });
      expect(out.next.triggered).toEqual([B]);
      expect(out.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
        [Phase.Triggering, Phase.Failed, B, Reason.TriggerFailed],
      ]);
    },
  );

  it('afterTrigger without a sha in flight throws instead of inventing one', () => {
    expect(() => afterTrigger(emptyRecord(iso(T0)), { runName: 'run-1' }, policy, T0)).toThrow(/no sha in flight/);
  });
});

describe('ClosingOut → Succeeded (every configured closeout check)', () => {
  it('every check holding is Succeeded (ClosedOut): lastSucceededSha set, nothing in flight', () => {
    const s = look(closingOut(B, T0), mirror(B), closedOut(B), T0 + 60_000);
    expect(s.decision).toBe(Decision.InFlight);
    expect(s.reason).toBe(Reason.ClosedOut);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next).toMatchObject({
      phase: Phase.Succeeded,
      reason: Reason.ClosedOut,
      lastSucceededSha: B,
      inFlight: null,
    });
    expect(s.next.message).toBe('closed out: runSucceeded, deployedShaMatches, mirrorFlushed, githubInSync');
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.ClosingOut, Phase.Succeeded, B, Reason.ClosedOut],
    ]);
  });

  // The run checks come from the adapter, the mirror checks from the mirror cache's GitOps ref.
  const missing: [CloseoutCheckName, MirrorView, StatusView][] = [
    ['runSucceeded', mirror(B), status({ target: B, deployed: B, run: run('run-1', B, 'Running') })],
    ['deployedShaMatches', mirror(B), status({ target: B, deployed: A, run: run('run-1', B, 'Succeeded') })],
    // Nothing published into the GitOps ref: nothing to flush, and nothing in sync either.
    [
      'githubInSync',
      mirror(B, true, UNPUBLISHED),
      status({ target: B, deployed: B, run: run('run-1', B, 'Succeeded') }),
    ],
  ];
  it.each(missing)('%s not holding keeps it ClosingOut (Waiting) and names the check', (check, m, st) => {
    const prev = closingOut(B, T0);
    const s = look(prev, m, st, T0 + 60_000);
    expect(s.decision).toBe(Decision.InFlight);
    expect(s.reason).toBe(Reason.Waiting);
    expect(s.message).toBe(`run-1: waiting for ${check}`);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.next.inFlight?.sha).toBe(B);
    expect(s.next.lastSucceededSha).toBeNull();
    expect(s.transitions).toEqual([]);
  });

  // mirrorFlushed alone not holding means the own run succeeded and published: the machine asks
  // for the flush instead of only waiting (see 'the flush action' below).
  it.each([
    ['mirrorFlushed', { pendingFlush: true }],
    ['mirrorFlushed and githubInSync', PENDING],
  ] as const)(
    '%s not holding (published, not upstream yet) keeps it ClosingOut (FlushPending) with a flush action',
    (_, g) => {
      const prev = closingOut(B, T0);
      const s = look(prev, mirror(B, true, g), closedOut(B), T0 + 60_000);
      expect(s.decision).toBe(Decision.InFlight);
      expect(s.reason).toBe(Reason.FlushPending);
      expect(s.message).toBe(`run-1 succeeded; ${GITOPS_REF} is not upstream yet: flushing it`);
      expect(s.action).toEqual({ kind: 'flush', sha: B, ref: GITOPS_REF });
      expect(s.next.phase).toBe(Phase.ClosingOut);
      expect(s.next.inFlight?.sha).toBe(B);
      expect(s.next.lastSucceededSha).toBeNull();
      expect(s.transitions).toEqual([]);
    },
  );

  it('a run of another sha does not count as runSucceeded', () => {
    expect(pendingChecks(ALL_CHECKS, (closedOut(A) as { status: AdapterStatus }).status, B, false, gitops())).toEqual([
      'runSucceeded',
      'deployedShaMatches',
    ]);
    const s = look(
      closingOut(B, T0),
      mirror(B),
      status({ target: B, deployed: B, run: run('run-9', A, 'Succeeded') }),
      T0 + 60_000,
    );
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.message).toBe('run-1: waiting for runSucceeded');
  });

  it('a check that is not configured is not waited for', () => {
    const p = withPolicy({ checks: ['runSucceeded'] });
    const st = status({ target: A, deployed: A, run: run('run-1', B, 'Succeeded') });
    const s = look(closingOut(B, T0, p), mirror(B, true, PENDING), st, T0 + 60_000, p);
    expect(s.next.phase).toBe(Phase.Succeeded);
    expect(s.next.message).toBe('closed out: runSucceeded');
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('records trigger→run-done and run-done→flushed timings', () => {
    const c = closingOut(B, T0); // triggered at T0+1s
    const runDone = look(
      c,
      mirror(B, true, PENDING),
      status({ target: B, deployed: B, run: run('run-1', B, 'Succeeded') }),
      T0 + 31_000,
    );
    expect(runDone.next.phase).toBe(Phase.ClosingOut);
    expect(runDone.action).toEqual({ kind: 'flush', sha: B, ref: GITOPS_REF });
    const s = look(runDone.next, mirror(B), closedOut(B), T0 + 41_000);
    expect(s.next.phase).toBe(Phase.Succeeded);
    expect(s.next.timings).toMatchObject({
      sha: B,
      observeToTriggerMs: 1000,
      triggerToRunDoneMs: 30_000,
      runDoneToFlushedMs: 10_000,
      budgetMs: BUDGET,
    });
  });
});

describe('the mirror checks come from the mirror cache, never from the adapter', () => {
  it('pendingChecks reads mirrorFlushed and githubInSync from the GitOps view alone', () => {
    const says = (adapterMirror: AdapterStatus['mirror']) =>
      (
        status({ target: B, deployed: B, run: run('run-1', B, 'Succeeded'), adapterMirror }) as {
          status: AdapterStatus;
        }
      ).status;
    const flushedAndInSync = says({ pendingFlush: false, githubInSync: true });
    const pendingAndOut = says({ pendingFlush: true, githubInSync: false });
    expect(pendingChecks(ALL_CHECKS, flushedAndInSync, B, true, gitops(PENDING))).toEqual([
      'mirrorFlushed',
      'githubInSync',
    ]);
    expect(pendingChecks(ALL_CHECKS, flushedAndInSync, B, true, gitops(UNPUBLISHED))).toEqual(['githubInSync']);
    expect(pendingChecks(ALL_CHECKS, pendingAndOut, B, true, gitops())).toEqual([]);
  });

  it('the adapter saying flushed and in sync does not close out while the cache says pending', () => {
    const st = status({
      target: B,
      deployed: B,
      run: run('run-1', B, 'Succeeded'),
      adapterMirror: { pendingFlush: false, githubInSync: true },
    });
    const s = look(closingOut(B, T0), mirror(B, true, PENDING), st, T0 + 60_000);
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.next.lastSucceededSha).toBeNull();
    expect(s.transitions).toEqual([]);
    expect(s.reason).toBe(Reason.FlushPending);
    expect(s.action).toEqual({ kind: 'flush', sha: B, ref: GITOPS_REF });
    // Nor with the mirror checks alone configured, nor when nothing is published (nothing to flush).
    for (const checks of [['mirrorFlushed'], ['githubInSync']] as const) {
      const p = withPolicy({ checks });
      expect(look(closingOut(B, T0, p), mirror(B, true, PENDING), st, T0 + 60_000, p).next.phase).toBe(
        Phase.ClosingOut,
      );
    }
    const unpublished = look(closingOut(B, T0), mirror(B, true, UNPUBLISHED), st, T0 + 60_000);
    expect(unpublished).toMatchObject({
      reason: Reason.Waiting,
      message: 'run-1: waiting for githubInSync',
      action: { kind: 'none' },
    });
    expect(unpublished.next.phase).toBe(Phase.ClosingOut);
  });

  it('the adapter saying pending and out of sync does not hold back a closeout the cache confirms', () => {
    const st = status({
      target: B,
      deployed: B,
      run: run('run-1', B, 'Succeeded'),
      adapterMirror: { pendingFlush: true, githubInSync: false },
    });
    const s = look(closingOut(B, T0), mirror(B), st, T0 + 60_000);
    expect(s.reason).toBe(Reason.ClosedOut);
    expect(s.next).toMatchObject({ phase: Phase.Succeeded, lastSucceededSha: B, inFlight: null });
    expect(s.action).toEqual({ kind: 'none' });
  });
});

describe('the flush action (the own run succeeded and published; the GitOps ref is not upstream yet)', () => {
  const succeededRun = (name = 'run-1') => status({ target: B, deployed: B, run: run(name, B, 'Succeeded') });

  it(
    'is returned exactly then: InFlight (FlushPending) with the sha and the GitOps ref; the record stays ClosingOut ' +
      'and marks the run done',
    () => {
      const s = look(closingOut(B, T0), mirror(B, true, PENDING), succeededRun(), T0 + 30_000);
      expect(s).toMatchObject({
        decision: Decision.InFlight,
        reason: Reason.FlushPending,
        action: { kind: 'flush', sha: B, ref: GITOPS_REF },
        transitions: [],
      });
      expect(s.next).toMatchObject({
        phase: Phase.ClosingOut,
        lastSucceededSha: null,
        inFlight: { sha: B, runName: 'run-1', runDoneAt: iso(T0 + 30_000), flushedAt: null },
      });
    },
  );

  it(
    "is returned with either mirror check configured alone, and the flush action names the follower's own " +
      'GitOps ref',
    () => {
      for (const checks of [['mirrorFlushed'], ['githubInSync'], ['runSucceeded', 'githubInSync']] as const) {
        const p = withPolicy({ checks });
        const s = look(
          closingOut(B, T0, p),
          mirror(B, true, { ...PENDING, ref: 'refs/heads/gitops/other' }),
          succeededRun(),
          T0 + 30_000,
          p,
        );
        expect(s.action).toEqual({ kind: 'flush', sha: B, ref: 'refs/heads/gitops/other' });
        expect(s.reason).toBe(Reason.FlushPending);
      }
    },
  );

  it('is returned for a write-ahead adopted from its own succeeded run in the same step', () => {
    const s = look(writtenAhead(B, T0), mirror(B, true, PENDING), succeededRun('run-3'), T0 + 30_000);
    expect(s.transitions.map((t) => t.reason)).toEqual([Reason.TriggerAdopted]);
    expect(s.action).toEqual({ kind: 'flush', sha: B, ref: GITOPS_REF });
    expect(s.next.inFlight).toMatchObject({ runName: 'run-3' });
  });

  it.each(['Pending', 'Running'] as const)('is not returned while the own run is %s', (phase) => {
    const s = look(
      closingOut(B, T0),
      mirror(B, true, PENDING),
      status({ target: B, deployed: B, run: run('run-1', B, phase) }),
      T0 + 30_000,
    );
    expect(s).toMatchObject({
      reason: Reason.Waiting,
      message: 'run-1: waiting for runSucceeded, mirrorFlushed, githubInSync',
      action: { kind: 'none' },
    });
  });

  it('is not returned for a failed own run (it is Failed instead)', () => {
    const s = look(
      closingOut(B, T0),
      mirror(B, true, PENDING),
      status({ run: run('run-1', B, 'Failed') }),
      T0 + 30_000,
    );
    expect(s.reason).toBe(Reason.RunFailed);
    expect(s.action).toEqual({ kind: 'none' });
  });

  const notOwn: [string, () => StateRecord, StatusView][] = [
    [
      'a succeeded run of another sha',
      () => closingOut(B, T0),
      status({ target: B, deployed: B, run: run('run-9', A, 'Succeeded') }),
    ],
    [
      'another succeeded run of the same sha than the one triggered',
      () => closingOut(B, T0),
      status({ target: B, deployed: B, run: run('run-5', B, 'Succeeded') }),
    ],
    [
      "an earlier (failed) attempt's run succeeding late",
      () => {
        const failed = look(closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000).next;
        const retry = look(failed, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF).next;
        return after(retry, { runName: 'run-2' }, T0 + 11_000 + BACKOFF).next;
      },
      status({ target: B, deployed: B, run: run('run-1', B, 'Succeeded') }),
    ],
    [
      'a write-ahead within its grace and a succeeded run of another sha',
      () => writtenAhead(B, T0),
      status({ run: run('run-9', A, 'Succeeded') }),
    ],
  ];
  it.each(notOwn)('is not returned for %s', (_, prev, st) => {
    const p = prev();
    const s = look(p, mirror(B, true, PENDING), st, Date.parse(p.inFlight!.startedAt) + 20_000);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.reason).toBe(Reason.Waiting);
    expect(s.next.phase).not.toBe(Phase.Succeeded);
  });

  it('is not returned when the checks list neither mirror check (the closeout does not wait for the mirror)', () => {
    const p = withPolicy({ checks: ['runSucceeded', 'deployedShaMatches'] });
    const s = look(closingOut(B, T0, p), mirror(B, true, PENDING), succeededRun(), T0 + 30_000, p);
    expect(s).toMatchObject({ reason: Reason.ClosedOut, action: { kind: 'none' } });
    const notDeployed = look(
      closingOut(B, T0, p),
      mirror(B, true, PENDING),
      status({ target: B, deployed: A, run: run('run-1', B, 'Succeeded') }),
      T0 + 30_000,
      p,
    );
    expect(notDeployed).toMatchObject({
      reason: Reason.Waiting,
      message: 'run-1: waiting for deployedShaMatches',
      action: { kind: 'none' },
    });
  });

  it('is not returned when nothing is pending in the cache (in sync, or nothing published)', () => {
    expect(look(closingOut(B, T0), mirror(B), succeededRun(), T0 + 30_000).action).toEqual({ kind: 'none' });
    expect(look(closingOut(B, T0), mirror(B, true, UNPUBLISHED), succeededRun(), T0 + 30_000).action).toEqual({
      kind: 'none',
    });
  });

  it('is returned up to the deadline; past it the sha is Failed (BudgetExceeded) and nothing is flushed', () => {
    expect(look(closingOut(B, T0), mirror(B, true, PENDING), succeededRun(), T0 + BUDGET).action).toEqual({
      kind: 'flush',
      sha: B,
      ref: GITOPS_REF,
    });
    const s = look(closingOut(B, T0), mirror(B, true, PENDING), succeededRun(), T0 + BUDGET + 1);
    expect(s).toMatchObject({ decision: Decision.InFlight, reason: Reason.BudgetExceeded, action: { kind: 'none' } });
    expect(s.next).toMatchObject({
      phase: Phase.Failed,
      reason: Reason.BudgetExceeded,
      inFlight: null,
      lastSucceededSha: null,
    });
    expect(s.next.message).toBe('closeout not complete after 120s: waiting for mirrorFlushed, githubInSync');
  });

  it('after the flush, the next look closes out once the cache is in sync (flushedAt and the timings from it)', () => {
    const asked = look(closingOut(B, T0), mirror(B, true, PENDING), succeededRun(), T0 + 30_000);
    expect(asked.action.kind).toBe('flush');
    // The pass flushed, looked at the mirror again (now in sync) and steps once more.
    const s = look(asked.next, mirror(B), succeededRun(), T0 + 32_000);
    expect(s).toMatchObject({ decision: Decision.InFlight, reason: Reason.ClosedOut, action: { kind: 'none' } });
    expect(s.next).toMatchObject({ phase: Phase.Succeeded, lastSucceededSha: B, inFlight: null });
    expect(s.next.timings).toMatchObject({ triggerToRunDoneMs: 29_000, runDoneToFlushedMs: 2_000 });
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.ClosingOut, Phase.Succeeded, B, Reason.ClosedOut],
    ]);
  });

  it('a flush that failed (still pending) asks again on the next look, not closing out', () => {
    const asked = look(closingOut(B, T0), mirror(B, true, PENDING), succeededRun(), T0 + 30_000).next;
    const again = look(asked, mirror(B, true, PENDING), succeededRun(), T0 + 32_000);
    expect(again).toMatchObject({
      reason: Reason.FlushPending,
      action: { kind: 'flush', sha: B, ref: GITOPS_REF },
      transitions: [],
    });
    expect(again.next.phase).toBe(Phase.ClosingOut);
    expect(again.next.inFlight?.runDoneAt).toBe(iso(T0 + 30_000));
  });

  it('a branch that moved on supersedes the sha instead of flushing it', () => {
    const s = look(closingOut(B, T0), mirror(C, true, PENDING), succeededRun(), T0 + 30_000);
    expect(s.transitions[0]).toMatchObject({ to: Phase.Superseded, sha: B });
    expect(s.action).toMatchObject({ kind: 'trigger', sha: C });
  });
});

describe('ClosingOut → Failed', () => {
  it('the run Failed is Failed (RunFailed) with the run message', () => {
    const s = look(
      closingOut(B, T0),
      mirror(B),
      status({ run: run('run-1', B, 'Failed', 'step build exited 1') }),
      T0 + 30_000,
    );
    expect(s.reason).toBe(Reason.RunFailed);
    expect(s.next).toMatchObject({
      phase: Phase.Failed,
      reason: Reason.RunFailed,
      message: 'run run-1 failed: step build exited 1',
      inFlight: null,
    });
    // The failed run is remembered, so a later attempt of B never takes it for its own.
    expect(s.next.attempts).toMatchObject({ sha: B, count: 1, lastFailedAt: iso(T0 + 30_000), lastRunName: 'run-1' });
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.ClosingOut, Phase.Failed, B, Reason.RunFailed],
    ]);
  });

  it('past the deadline is Failed (BudgetExceeded), visible in phase, reason and message', () => {
    const s = look(
      closingOut(B, T0),
      mirror(B),
      status({ target: B, run: run('run-1', B, 'Running') }),
      T0 + BUDGET + 1,
    );
    expect(s.reason).toBe(Reason.BudgetExceeded);
    expect(s.next).toMatchObject({ phase: Phase.Failed, reason: Reason.BudgetExceeded, inFlight: null });
    expect(s.next.message).toBe('closeout not complete after 120s: waiting for runSucceeded, deployedShaMatches');
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.ClosingOut, Phase.Failed, B, Reason.BudgetExceeded],
    ]);
    expect(s.next.history.at(-1)?.detail).toContain('120s');
  });

  it('exactly at the deadline it still waits', () => {
    const s = look(closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Running') }), T0 + BUDGET);
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.reason).toBe(Reason.Waiting);
  });
});

describe('Triggering/ClosingOut → Superseded (the branch advanced)', () => {
  it.each([
    ['Triggering', () => writtenAhead(B, T0)],
    ['ClosingOut', () => closingOut(B, T0)],
  ] as const)(
    'from %s: the old sha is Superseded (detail names the new sha) and the new sha is written ahead in the same step',
    (from, prev) => {
      const now = T0 + 5_000;
      const s = look(prev(), mirror(C), status({ run: run('run-1', B, 'Running') }), now);
      expect(s.transitions[0]).toEqual({
        at: iso(now),
        from,
        to: Phase.Superseded,
        sha: B,
        reason: Reason.BranchAdvanced,
        detail: `superseded by ${C}`,
      });
      expect(s.transitions.slice(1).map((t) => [t.from, t.to, t.sha])).toEqual([
        [Phase.Superseded, Phase.PendingTrigger, C],
        [Phase.PendingTrigger, Phase.Triggering, C],
      ]);
      expect(s.action).toEqual({ kind: 'trigger', sha: C, snapshotRef: snapshotRefOf(C), attempt: 1 });
      expect(s.next.inFlight).toMatchObject({ sha: C, attempt: 1, runName: null, deadline: iso(now + BUDGET) });
      expect(s.next.triggered).toEqual([B, C]);
      expect(s.next.history.some((t) => t.to === Phase.Superseded && t.sha === B && t.detail.includes(C))).toBe(true);
    },
  );

  it('a new sha without its snapshot yet leaves the old one Superseded and nothing in flight (SnapshotMissing)', () => {
    const s = look(closingOut(B, T0), mirror(C, false), status(), T0 + 5_000);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.SnapshotMissing);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next).toMatchObject({ phase: Phase.Superseded, inFlight: null, triggered: [B] });
    const later = look(s.next, mirror(C), status(), T0 + 6_000);
    expect(later.action).toMatchObject({ kind: 'trigger', sha: C, attempt: 1 });
    expect(later.transitions.map((t) => t.from)).toEqual([Phase.Superseded, Phase.PendingTrigger]);
  });

  it('a new sha the control plane already targets leaves the old one Superseded and is Noop', () => {
    const s = look(closingOut(B, T0), mirror(C), status({ target: C, deployed: C }), T0 + 5_000);
    expect(s.transitions.map((t) => t.to)).toEqual([Phase.Superseded, Phase.Noop]);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('a superseded sha pushed again is never triggered again (AlreadyTriggered)', () => {
    const cInFlight = look(closingOut(B, T0), mirror(C), status(), T0 + 5_000).next;
    const s = look(cInFlight, mirror(B), status(), T0 + 6_000);
    expect(s.transitions.map((t) => [t.to, t.sha, t.detail])).toEqual([[Phase.Superseded, C, `superseded by ${B}`]]);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.AlreadyTriggered);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next.inFlight).toBeNull();
  });
});

describe('Failed → PendingTrigger (retry)', () => {
  it('within the backoff it waits (RetryBackoff) and names the retry time', () => {
    const s = look(failedOnce(B, T0), mirror(B), status(), T0 + 1000 + BACKOFF - 1);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.RetryBackoff);
    expect(s.message).toBe(`retry 2 of ${B.slice(0, 12)} at ${iso(T0 + 1000 + BACKOFF)} (retry.backoffSeconds)`);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next.phase).toBe(Phase.Failed);
  });

  it('after the backoff the same sha is written ahead again with attempt 2 (Retry)', () => {
    const now = T0 + 1000 + BACKOFF;
    const s = look(failedOnce(B, T0), mirror(B), status(), now);
    expect(s.decision).toBe(Decision.PendingTrigger);
    expect(s.reason).toBe(Reason.Retry);
    expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 2 });
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.Failed, Phase.PendingTrigger, B, Reason.Retry],
      [Phase.PendingTrigger, Phase.Triggering, B, Reason.Retry],
    ]);
    expect(s.next.inFlight).toMatchObject({
      sha: B,
      attempt: 2,
      runName: null,
      startedAt: iso(now),
      deadline: iso(now + BUDGET),
    });
    expect(s.next.inFlight?.sentAt).toBe(iso(now));
    expect(s.next.attempts).toMatchObject({ sha: B, count: 2, lastFailedAt: iso(T0 + 1000), lastRunName: null });
    expect(s.next.triggered).toEqual([B]);
  });

  it("the retry write-ahead keeps the failed attempt's run name (lastRunName)", () => {
    const failed = look(closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000).next;
    const s = look(failed, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF);
    expect(s.reason).toBe(Reason.Retry);
    expect(s.next.attempts).toMatchObject({ sha: B, count: 2, lastFailedAt: iso(T0 + 10_000), lastRunName: 'run-1' });
    expect(s.next.attempts!.earlierRuns).toEqual(['run-1']); // the run the status showed at the retry's write-ahead
    // A second failure (the trigger of attempt 2, naming no run) keeps it too.
    const again = after(s.next, { error: 'trigger command exited 2' }, T0 + 11_000 + BACKOFF).next;
    expect(again.attempts).toMatchObject({
      sha: B,
      count: 2,
      lastFailedAt: iso(T0 + 11_000 + BACKOFF),
      lastRunName: 'run-1',
    });
  });

  it('a new sha starts with fresh attempts (no lastRunName of another sha)', () => {
    const failed = look(closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000).next;
    const s = look(failed, mirror(C), status({ run: run('run-1', B, 'Failed') }), T0 + 11_000);
    expect(s.next.attempts).toEqual({
      sha: C,
      count: 1,
      startedAt: iso(T0 + 11_000),
      lastFailedAt: null,
      lastRunName: null,
      earlierRuns: [],
    });
  });

  it('a run that Failed is retried the same way', () => {
    const failed = look(closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000).next;
    expect(look(failed, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF - 1).reason).toBe(
      Reason.RetryBackoff,
    );
    const s = look(failed, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 2 });
  });

  it('once attempts reach maxAttempts the sha is not retried (RetryBudgetExhausted)', () => {
    const retry = look(failedOnce(B, T0), mirror(B), status(), T0 + 1000 + BACKOFF).next;
    const failedTwice = after(retry, { error: 'trigger command exited 2' }, T0 + 2000 + BACKOFF).next;
    expect(failedTwice.attempts).toMatchObject({ sha: B, count: 2 });
    const s = look(failedTwice, mirror(B), status(), T0 + 100 * BACKOFF);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.RetryBudgetExhausted);
    expect(s.message).toBe(`${B.slice(0, 12)} failed 2 of 2 attempts (retry.maxAttempts)`);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('with maxAttempts 1 the first failure exhausts the budget', () => {
    const p = withPolicy({ maxAttempts: 1 });
    const s = look(failedOnce(B, T0, p), mirror(B), status(), T0 + 100 * BACKOFF, p);
    expect(s.reason).toBe(Reason.RetryBudgetExhausted);
  });

  it('a retry also needs the snapshot in the mirror (SnapshotMissing)', () => {
    const s = look(failedOnce(B, T0), mirror(B, false), status(), T0 + 1000 + BACKOFF);
    expect(s.reason).toBe(Reason.SnapshotMissing);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('a failed sha is not retried once a newer sha was triggered, and the newer sha is not blocked by the failure', () => {
    const failed = failedOnce(B, T0);
    const c = look(failed, mirror(C), status(), T0 + 2000);
    expect(c.action).toMatchObject({ kind: 'trigger', sha: C, attempt: 1 });
    const back = look(after(c.next, { runName: 'run-2' }, T0 + 3000).next, mirror(B), status(), T0 + 10 * BACKOFF);
    expect(back.reason).toBe(Reason.AlreadyTriggered);
    expect(back.action).toEqual({ kind: 'none' });
  });
});

describe('AlreadyTriggered: a repeated sha is never triggered again', () => {
  it('after it Succeeded, even when the control plane no longer targets it', () => {
    const s = look(succeeded(B, T0), mirror(B), status({ target: A, deployed: A }), T0 + 100_000);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.AlreadyTriggered);
    expect(s.message).toBe(`${B.slice(0, 12)} was triggered before; a sha is never triggered twice`);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('after a Noop on it', () => {
    const noop = look(succeeded(B, T0), mirror(B), closedOut(B), T0 + 20_000).next;
    expect(noop.phase).toBe(Phase.Noop);
    const s = look(noop, mirror(B), status({ target: A }), T0 + 30_000);
    expect(s.reason).toBe(Reason.AlreadyTriggered);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('while it is Succeeded and a newer sha came and went', () => {
    const c = look(succeeded(B, T0), mirror(C), status({ target: B }), T0 + 20_000).next;
    const s = look(c, mirror(B), status({ target: A }), T0 + 30_000);
    expect(s.transitions[0]).toMatchObject({ to: Phase.Superseded, sha: C });
    expect(s.reason).toBe(Reason.AlreadyTriggered);
  });
});

describe('Succeeded → Observed (next pass)', () => {
  it('the next step starts from Observed, then decides (Noop while the target is the tip)', () => {
    const s = look(succeeded(B, T0), mirror(B), closedOut(B), T0 + 20_000);
    expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
      [Phase.Succeeded, Phase.Observed, B, Reason.NextPass],
      [Phase.Observed, Phase.Noop, B, Reason.UpToDate],
    ]);
    expect(s.next.phase).toBe(Phase.Noop);
  });

  it('a new tip after a success goes Succeeded → Observed → PendingTrigger → Triggering', () => {
    const s = look(succeeded(B, T0), mirror(C), closedOut(B), T0 + 20_000);
    expect(s.transitions.map((t) => [t.to, t.reason])).toEqual([
      [Phase.Observed, Reason.NextPass],
      [Phase.PendingTrigger, Reason.NewSha],
      [Phase.Triggering, Reason.NewSha],
    ]);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: C, attempt: 1 });
  });
});

describe('Blocked: the pass does not act and says why', () => {
  const disabledCases: [string, () => StateRecord | undefined][] = [
    ['a new follower', () => undefined],
    ['a write-ahead', () => writtenAhead(B, T0)],
    ['a sha closing out past its deadline', () => closingOut(B, T0)],
    ['a Failed sha past its backoff', () => failedOnce(B, T0)],
  ];
  it.each(disabledCases)('disabled: Blocked (Disabled) with no change to %s', (_, prev) => {
    const p = withPolicy({ enabled: false });
    const before = prev();
    const now = T0 + 10 * BUDGET;
    const s = look(before, mirror(C), status({ target: A }), now, p);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.Disabled);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.transitions).toEqual([]);
    expect(without(s.next)).toEqual(without(before ?? emptyRecord(iso(now))));
  });

  it('a mirror error is Blocked (MirrorUnreachable) with the error, and changes nothing', () => {
    const prev = closingOut(B, T0);
    const s = look(prev, { error: 'git ls-remote: connection refused' }, status(), T0 + 5_000);
    expect(s).toMatchObject({
      decision: Decision.Blocked,
      reason: Reason.MirrorUnreachable,
      message: 'git ls-remote: connection refused',
      action: { kind: 'none' },
      transitions: [],
    });
    expect(without(s.next)).toEqual(without(prev));
  });

  it(
    'a failed git-mirror sync is Blocked (MirrorSyncFailed, not MirrorUnreachable) with the error, and ' +
      'changes nothing',
    () => {
      const prev = closingOut(B, T0);
      const s = look(prev, syncFailed, closedOut(B), T0 + 5_000);
      expect(s).toMatchObject({
        decision: Decision.Blocked,
        reason: Reason.MirrorSyncFailed,
        message: SYNC_FAILED,
        action: { kind: 'none' },
        transitions: [],
      });
      expect(without(s.next)).toEqual(without(prev));
      // Nothing is triggered from a cache that may be stale: not a new follower's first sha either.
      const fresh = look(undefined, syncFailed, status(), T0);
      expect(fresh).toMatchObject({
        decision: Decision.Blocked,
        reason: Reason.MirrorSyncFailed,
        action: { kind: 'none' },
        transitions: [],
      });
      expect(fresh.next).toMatchObject({ triggered: [], inFlight: null, observedSha: null });
    },
  );

  it('a missing branch (tip null) is Blocked (BranchMissing) and changes nothing', () => {
    const prev = closingOut(B, T0);
    const s = look(prev, mirror(null), status(), T0 + 5_000);
    expect(s).toMatchObject({
      decision: Decision.Blocked,
      reason: Reason.BranchMissing,
      message: BRANCH_MISSING,
      action: { kind: 'none' },
      transitions: [],
    });
    expect(without(s.next)).toEqual(without(prev));
  });

  const outages: [string, MirrorView, Reason, string][] = [
    [
      'the mirror unreachable',
      { error: 'git ls-remote: connection refused' },
      Reason.MirrorUnreachable,
      'git ls-remote: connection refused',
    ],
    ['the branch missing', mirror(null), Reason.BranchMissing, BRANCH_MISSING],
    ["the mirror's git-mirror sync failed", syncFailed, Reason.MirrorSyncFailed, SYNC_FAILED],
  ];
  describe.each(outages)('nothing waits forever: with %s', (_, m, reason, why) => {
    it.each([
      ['ClosingOut', () => closingOut(B, T0)],
      ['Triggering (unconfirmed write-ahead)', () => writtenAhead(B, T0)],
    ] as const)(
      'an in-flight sha (%s) past its deadline is Failed (BudgetExceeded), the decision still Blocked',
      (from, prev) => {
        const now = T0 + BUDGET + 1;
        const s = look(prev(), m, status(), now);
        expect(s).toMatchObject({ decision: Decision.Blocked, reason, message: why, action: { kind: 'none' } });
        expect(s.next).toMatchObject({ phase: Phase.Failed, reason: Reason.BudgetExceeded, inFlight: null });
        expect(s.next.message).toBe(`closeout not complete by ${iso(T0 + BUDGET)}; ${why}`);
        expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
          [from.split(' ')[0], Phase.Failed, B, Reason.BudgetExceeded],
        ]);
        expect(s.next.attempts).toMatchObject({ sha: B, count: 1, lastFailedAt: iso(now) });
        // The failure is an ordinary one: once the mirror is back and the backoff is over, B is retried.
        expect(look(s.next, mirror(B), status(), now + BACKOFF).action).toMatchObject({
          kind: 'trigger',
          sha: B,
          attempt: 2,
        });
      },
    );

    it('exactly at the deadline nothing changes yet', () => {
      const prev = closingOut(B, T0);
      const s = look(prev, m, status(), T0 + BUDGET);
      expect(s.transitions).toEqual([]);
      expect(without(s.next)).toEqual(without(prev));
    });

    it("the failed run's name is kept for the retry (lastRunName)", () => {
      const s = look(closingOut(B, T0), m, status(), T0 + BUDGET + 1);
      expect(s.next.attempts).toMatchObject({
        sha: B,
        count: 1,
        lastFailedAt: iso(T0 + BUDGET + 1),
        lastRunName: 'run-1',
      });
    });
  });

  it(
    'a new tip whose snapshot ref is not in the mirror is Blocked (SnapshotMissing): not written ahead, not ' +
      'remembered as triggered',
    () => {
      const noop = look(undefined, mirror(A), status({ target: A }), T0).next;
      const s = look(noop, mirror(C, false), status({ target: A }), T0 + 1000);
      expect(s.decision).toBe(Decision.Blocked);
      expect(s.reason).toBe(Reason.SnapshotMissing);
      expect(s.message).toContain(snapshotRefOf(C));
      expect(s.action).toEqual({ kind: 'none' });
      expect(s.next).toMatchObject({
        phase: Phase.Noop,
        inFlight: null,
        triggered: [],
        lastTriggeredSha: null,
        observedSha: C,
      });
      expect(look(s.next, mirror(C, true), status({ target: A }), T0 + 2000).action).toMatchObject({
        kind: 'trigger',
        sha: C,
        attempt: 1,
      });
    },
  );

  it('an adapter status error is Blocked (AdapterStatusFailed): the sha in flight is kept, nothing is sent', () => {
    const prev = closingOut(B, T0);
    const s = look(prev, mirror(B), { error: 'status command exited 1' }, T0 + 5_000);
    expect(s).toMatchObject({
      decision: Decision.Blocked,
      reason: Reason.AdapterStatusFailed,
      message: 'status command exited 1',
      action: { kind: 'none' },
      transitions: [],
    });
    expect(s.next.inFlight).toEqual(prev.inFlight);
    expect(s.next.phase).toBe(Phase.ClosingOut);
  });

  it('an adapter status not asked is Blocked (AdapterStatusFailed) too', () => {
    const s = look(undefined, mirror(B), undefined, T0);
    expect(s.reason).toBe(Reason.AdapterStatusFailed);
    expect(s.message).toBe('adapter status not asked');
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('an adapter status error does not supersede: the moved tip waits for an answer from the adapter', () => {
    const prev = closingOut(B, T0);
    const s = look(prev, mirror(C), { error: 'status command exited 1' }, T0 + 5_000);
    expect(s.reason).toBe(Reason.AdapterStatusFailed);
    expect(s.next.inFlight?.sha).toBe(B);
    expect(s.next.observedSha).toBe(C);
  });

  it.each([
    ['ClosingOut', () => closingOut(B, T0)],
    ['Triggering (unconfirmed write-ahead)', () => writtenAhead(B, T0)],
  ] as const)('an adapter status error past the in-flight deadline (%s) is Failed (BudgetExceeded)', (from, prev) => {
    const s = look(prev(), mirror(B), { error: 'status command exited 1' }, T0 + BUDGET + 1);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.BudgetExceeded);
    expect(s.next).toMatchObject({ phase: Phase.Failed, reason: Reason.BudgetExceeded, inFlight: null });
    expect(s.next.message).toBe(
      `closeout not complete by ${iso(T0 + BUDGET)}; the adapter status failed: status command exited 1`,
    );
    expect(s.transitions.map((t) => [t.from, t.to, t.sha])).toEqual([[from.split(' ')[0], Phase.Failed, B]]);
    expect(s.next.attempts?.lastFailedAt).toBe(iso(T0 + BUDGET + 1));
  });
});

describe('a write-ahead record with no confirmed run (the pass died around the trigger)', () => {
  it(
    'the adapter knows the run (status.run.sha is the sha): ClosingOut (TriggerAdopted), followed and not ' +
      'sent again',
    () => {
      const now = T0 + 30_000;
      const s = look(writtenAhead(B, T0), mirror(B), status({ run: run('run-3', B, 'Running') }), now);
      expect(s.action).toEqual({ kind: 'none' });
      expect(s.decision).toBe(Decision.InFlight);
      expect(s.transitions.map((t) => [t.from, t.to, t.sha, t.reason])).toEqual([
        [Phase.Triggering, Phase.ClosingOut, B, Reason.TriggerAdopted],
      ]);
      expect(s.next).toMatchObject({ phase: Phase.ClosingOut, reason: Reason.TriggerAdopted });
      expect(s.next.inFlight).toMatchObject({ sha: B, attempt: 1, runName: 'run-3', triggeredAt: iso(now) });
      expect(s.message).toBe('run-3: waiting for runSucceeded, deployedShaMatches');
    },
  );

  it('the adapter knows the sha as its target: adopted without a run name, which the run fills in later', () => {
    const s = look(writtenAhead(B, T0), mirror(B), status({ target: B, deployed: B }), T0 + 30_000);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.transitions.map((t) => t.reason)).toEqual([Reason.TriggerAdopted]);
    expect(s.next.inFlight).toMatchObject({ sha: B, runName: null });
    const later = look(
      s.next,
      mirror(B),
      status({ target: B, deployed: B, run: run('run-3', B, 'Running') }),
      T0 + 40_000,
    );
    expect(later.next.inFlight?.runName).toBe('run-3');
  });

  it('an adopted run that already closed out goes to Succeeded in the same step', () => {
    const s = look(writtenAhead(B, T0), mirror(B), closedOut(B, 'run-3'), T0 + 30_000);
    expect(s.transitions.map((t) => [t.to, t.reason])).toEqual([
      [Phase.ClosingOut, Reason.TriggerAdopted],
      [Phase.Succeeded, Reason.ClosedOut],
    ]);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it(
    'the adapter does not know it, within the grace: it waits (InFlight, Waiting) with no action and an ' +
      'unchanged record',
    () => {
      const prev = writtenAhead(B, T0);
      for (const now of [T0, T0 + 1000, T0 + GRACE - 1]) {
        const s = look(prev, mirror(B), status({ run: run('run-0', A, 'Succeeded') }), now);
        expect(s).toMatchObject({
          decision: Decision.InFlight,
          reason: Reason.Waiting,
          action: { kind: 'none' },
          transitions: [],
        });
        expect(s.message).toBe(
          `trigger of ${B.slice(0, 12)} not confirmed by the adapter yet; it is sent again at ${iso(T0 + GRACE)} if ` +
            `still unknown`,
        );
        expect(without(s.next)).toEqual(without(prev));
      }
    },
  );

  it(
    'the adapter does not know it once the grace is over: the trigger is sent with the SAME attempt ' +
      '(TriggerUnconfirmed), claiming the send in sentAt',
    () => {
      const prev = writtenAhead(B, T0);
      const now = T0 + GRACE;
      const s = look(prev, mirror(B), status({ run: run('run-0', A, 'Succeeded') }), now);
      expect(s.decision).toBe(Decision.InFlight);
      expect(s.reason).toBe(Reason.TriggerUnconfirmed);
      expect(s.message).toBe(`trigger of ${B.slice(0, 12)} unconfirmed by the adapter: sending it (attempt 1)`);
      expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 1 });
      expect(s.transitions).toEqual([]);
      // The one change is sentAt: the record differs, so the caller's compare-and-swap claims the send.
      expect(s.next.inFlight?.sentAt).toBe(iso(now));
      expect(without(s.next)).toEqual(without({ ...prev, inFlight: { ...prev.inFlight!, sentAt: iso(now) } }));
      // The budget still counts from the write-ahead, not from the re-send.
      expect(s.next.inFlight).toMatchObject({ startedAt: iso(T0), deadline: iso(T0 + BUDGET) });
      const out = after(s.next, { runName: 'run-4' }, now + 1000);
      expect(out.next.phase).toBe(Phase.ClosingOut);
      expect(out.next.inFlight).toMatchObject({ attempt: 1, runName: 'run-4', deadline: iso(T0 + BUDGET) });
    },
  );

  it('of two passes that both decided the re-send, the CAS loser re-reads the claimed record and does not send', () => {
    const prev = writtenAhead(B, T0);
    const unknown = status({ run: run('run-0', A, 'Succeeded') });
    const winner = look(prev, mirror(B), unknown, T0 + GRACE);
    const loser = look(prev, mirror(B), unknown, T0 + GRACE);
    expect(loser.action).toEqual(winner.action);
    // Same base, different records (updatedAt aside, sentAt is what a CAS write would see change).
    expect(winner.next.inFlight?.sentAt).not.toBe(prev.inFlight?.sentAt);
    // The winner's write landed; the loser re-reads it and decides again: it waits.
    const reread = look(winner.next, mirror(B), unknown, T0 + GRACE + 5_000);
    expect(reread).toMatchObject({ decision: Decision.InFlight, reason: Reason.Waiting, action: { kind: 'none' } });
    expect(reread.message).toContain(`sent again at ${iso(T0 + 2 * GRACE)}`);
    // A re-sent write-ahead whose pass died again is re-sent a grace after the re-send.
    expect(look(winner.next, mirror(B), unknown, T0 + 2 * GRACE - 1).reason).toBe(Reason.Waiting);
    const third = look(winner.next, mirror(B), unknown, T0 + 2 * GRACE);
    expect(third.reason).toBe(Reason.TriggerUnconfirmed);
    expect(third.next.inFlight?.sentAt).toBe(iso(T0 + 2 * GRACE));
  });

  it('with a grace of 0 the unconfirmed write-ahead is sent again at once', () => {
    const p = withPolicy({ unconfirmedGraceMs: 0 });
    const s = look(writtenAhead(B, T0, p), mirror(B), status(), T0, p);
    expect(s.reason).toBe(Reason.TriggerUnconfirmed);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 1 });
  });

  it('a grace longer than the budget: an unconfirmed write-ahead is never sent again, it fails at its deadline', () => {
    const p = withPolicy({ unconfirmedGraceMs: 2 * BUDGET });
    const prev = writtenAhead(B, T0, p);
    expect(look(prev, mirror(B), status(), T0 + BUDGET, p).reason).toBe(Reason.Waiting);
    const s = look(prev, mirror(B), status(), T0 + BUDGET + 1, p);
    expect(s.reason).toBe(Reason.BudgetExceeded);
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('the adapter shows the run within the grace: it is adopted, not sent again', () => {
    const prev = writtenAhead(B, T0);
    expect(look(prev, mirror(B), status(), T0 + 10_000).reason).toBe(Reason.Waiting);
    const s = look(prev, mirror(B), status({ run: run('run-1', B, 'Pending') }), T0 + 20_000);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.transitions.map((t) => t.reason)).toEqual([Reason.TriggerAdopted]);
    expect(s.next.inFlight).toMatchObject({ runName: 'run-1', triggeredAt: iso(T0 + 20_000), sentAt: iso(T0) });
  });

  it('a retry write-ahead the adapter does not know is re-sent with its own attempt (2), not a new one', () => {
    const retryAt = T0 + 1000 + BACKOFF;
    const retry = look(failedOnce(B, T0), mirror(B), status(), retryAt).next;
    expect(retry.inFlight?.sentAt).toBe(iso(retryAt));
    expect(look(retry, mirror(B), status({ run: run('run-0', A, 'Succeeded') }), retryAt + GRACE - 1).reason).toBe(
      Reason.Waiting,
    );
    const s = look(retry, mirror(B), status({ run: run('run-0', A, 'Succeeded') }), retryAt + GRACE);
    expect(s.reason).toBe(Reason.TriggerUnconfirmed);
    expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 2 });
    expect(s.next.attempts).toEqual(retry.attempts);
  });

  it('an unconfirmed write-ahead past its deadline is Failed (BudgetExceeded), not sent', () => {
    const s = look(writtenAhead(B, T0), mirror(B), status(), T0 + BUDGET + 1);
    expect(s.decision).toBe(Decision.Blocked);
    expect(s.reason).toBe(Reason.BudgetExceeded);
    expect(s.action).toEqual({ kind: 'none' });
    expect(s.next).toMatchObject({ phase: Phase.Failed, inFlight: null });
    expect(s.next.message).toBe(`no confirmed trigger before the deadline ${iso(T0 + BUDGET)}`);
  });
});

describe("attempts are told apart: a later attempt never takes an earlier attempt's run", () => {
  const run1Failed = status({ run: run('run-1', B, 'Failed', 'step build exited 1') });
  /**
   * Attempt 1 of B ran as run-1 and failed at T0+10s; attempt 2 written ahead at RETRY, its pass died before sending.
   */
  const RETRY = T0 + 10_000 + BACKOFF;
  const retryWrittenAhead = () => {
    const failed = look(closingOut(B, T0), mirror(B), run1Failed, T0 + 10_000).next;
    expect(failed.attempts).toMatchObject({ count: 1, lastRunName: 'run-1' });
    const retry = look(failed, mirror(B), run1Failed, RETRY);
    expect(retry.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 2 });
    return retry.next;
  };

  it(
    "a retry write-ahead is not adopted from the previous attempt's failed run: it waits, then attempt 2 is sent " +
      '(TriggerUnconfirmed)',
    () => {
      const wa = retryWrittenAhead();
      const waiting = look(wa, mirror(B), run1Failed, RETRY + 1000);
      expect(waiting.transitions).toEqual([]);
      expect(waiting).toMatchObject({ decision: Decision.InFlight, reason: Reason.Waiting, action: { kind: 'none' } });
      const s = look(wa, mirror(B), run1Failed, RETRY + GRACE);
      expect(s.transitions).toEqual([]);
      expect(s.reason).toBe(Reason.TriggerUnconfirmed);
      expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 2 });
    },
  );

  it('a retry write-ahead is adopted from a NEW run of its sha (the send of attempt 2 happened)', () => {
    const s = look(retryWrittenAhead(), mirror(B), status({ run: run('run-2', B, 'Running') }), RETRY + 1000);
    expect(s.transitions.map((t) => t.reason)).toEqual([Reason.TriggerAdopted]);
    expect(s.next.inFlight).toMatchObject({ attempt: 2, runName: 'run-2' });
    expect(s.action).toEqual({ kind: 'none' });
  });

  it('a retry write-ahead is not adopted from the control plane targeting its sha (only attempt 1 is)', () => {
    const wa = retryWrittenAhead();
    const targets = status({ target: B, deployed: OLD, run: run('run-1', B, 'Failed') });
    expect(look(wa, mirror(B), targets, RETRY + 1000).reason).toBe(Reason.Waiting);
    const s = look(wa, mirror(B), targets, RETRY + GRACE);
    expect(s.reason).toBe(Reason.TriggerUnconfirmed);
    expect(s.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 2 });
  });

  it("attempt 2 closing out is not failed by attempt 1's run, and its own run closes it out", () => {
    const closing = after(retryWrittenAhead(), { runName: 'run-2' }, RETRY + 1000).next;
    const s = look(
      closing,
      mirror(B),
      status({ target: B, deployed: B, run: run('run-1', B, 'Failed') }),
      RETRY + 5_000,
    );
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.reason).toBe(Reason.Waiting);
    expect(s.message).toBe('run-2: waiting for runSucceeded');
    const own = look(closing, mirror(B), closedOut(B, 'run-2'), RETRY + 7_000);
    expect(own.next.phase).toBe(Phase.Succeeded);
  });

  it(
    'attempt 1 adopted from the target alone learns its run from the status, and its failure remembers it ' +
      '(lastRunName)',
    () => {
      const adopted = look(writtenAhead(B, T0), mirror(B), status({ target: B }), T0 + 1000).next;
      expect(adopted.inFlight).toMatchObject({ runName: null });
      const failed = look(adopted, mirror(B), status({ target: B, run: run('run-1', B, 'Failed') }), T0 + 2000);
      expect(failed.reason).toBe(Reason.RunFailed);
      expect(failed.next.attempts).toMatchObject({ count: 1, lastRunName: 'run-1' });
    },
  );

  // BUG (remaining, minor): closeout does not tell attempts apart for the runSucceeded check.
  // followInFlight ignores a run of another attempt for RunFailed (`ours`), but pendingChecks
  // counts runSucceeded from status.run by sha alone, so attempt 2 (run-2) closes out on attempt
  // 1's run-1 succeeding late (e.g. attempt 1 failed by BudgetExceeded while run-1 was still
  // running, and the adapter shows run-1 because run-2 is within its status lag). The sha was
  // deployed by run-1, so the harm is small: Succeeded is declared while run-2 still runs.
  it(
    "attempt 2 closing out is not closed out by attempt 1's run succeeding (runSucceeded counts only " + 'its own run)',
    () => {
      const closing = after(retryWrittenAhead(), { runName: 'run-2' }, RETRY + 1000).next;
      const old = look(closing, mirror(B), closedOut(B, 'run-1'), RETRY + 6_000);
      expect(old.next.phase).toBe(Phase.ClosingOut);
      expect(old.message).toBe('run-2: waiting for runSucceeded');
    },
  );

  // BUG (remaining): attempts.lastRunName holds only a run the machine saw before the attempt
  // failed. When it never saw it — the trigger failed AFTER starting the run (e.g. the command
  // timed out, which adapters.md makes TriggerFailed, while the control plane had created the run),
  // or the budget ran out before the adapter showed the run — lastRunName stays null. When the
  // retry's write-ahead (attempt 2) is not confirmed by its own pass (it died, or it is still
  // sending while another pass looks), the next step sees attempt 1's run — which the status
  // already showed when attempt 2 was written ahead — and adopts it as attempt 2: attempt 2 is
  // never sent, and fails (or closes out) on attempt 1's run. The step that writes attempt 2 ahead
  // has the status at hand; a run of the sha shown then cannot be attempt 2's run.
  // (A trigger that failed after starting its run is no longer retried while the adapter shows that
  // run: it is followed to closeout, see 'a trigger that failed after its run started'.)
  const unnamedFailures: [string, () => StateRecord][] = [
    [
      'the budget ran out before the run showed',
      () => look(writtenAhead(B, T0), mirror(B), status(), T0 + BUDGET + 1).next,
    ],
  ];
  for (const [why, failed] of unnamedFailures) {
    it(`a retry write-ahead is not adopted from a run the status showed before it was written (${why})`, () => {
      const f = failed();
      expect(f).toMatchObject({ phase: Phase.Failed, attempts: { count: 1, lastRunName: null } });
      const zombie = status({ run: run('run-1', B, 'Running') });
      const at = Date.parse(f.attempts!.lastFailedAt!) + BACKOFF;
      const retry = look(f, mirror(B), zombie, at);
      expect(retry.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 2 });
      // Attempt 2 is not confirmed by its pass. The adapter still shows run-1.
      const s = look(retry.next, mirror(B), zombie, at + GRACE);
      expect(s.transitions.map((t) => t.reason)).not.toContain(Reason.TriggerAdopted);
      expect(s.reason).toBe(Reason.TriggerUnconfirmed);
      expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 2 });
    });
  }

  // BUG (remaining), same root: lastRunName holds only the LAST failed attempt's run. With
  // maxAttempts >= 3, attempt 2 named run-2 (afterTrigger) but ran out of budget before the adapter
  // showed it, so the adapter still shows attempt 1's run-1; attempt 3's write-ahead, not confirmed
  // by its pass, is adopted from run-1 (run-1 !== lastRunName run-2) and fails on run-1's failure.
  it("attempt 3 is not adopted from attempt 1's run when attempt 2's run is the one remembered", () => {
    const p = withPolicy({ maxAttempts: 3 });
    const run1Failed = status({ run: run('run-1', B, 'Failed', 'step build exited 1') });
    const failed1 = look(closingOut(B, T0, p), mirror(B), run1Failed, T0 + 10_000, p).next;
    const retry2 = look(failed1, mirror(B), run1Failed, T0 + 10_000 + BACKOFF, p).next;
    const closing2 = after(retry2, { runName: 'run-2' }, T0 + 11_000 + BACKOFF, p).next;
    const failed2 = look(closing2, mirror(B), run1Failed, T0 + 10_000 + BACKOFF + BUDGET + 1, p).next;
    expect(failed2).toMatchObject({
      phase: Phase.Failed,
      reason: Reason.BudgetExceeded,
      attempts: { count: 2, lastRunName: 'run-2' },
    });
    const at = T0 + 10_000 + 2 * BACKOFF + BUDGET + 1;
    const retry3 = look(failed2, mirror(B), run1Failed, at, p);
    expect(retry3.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 3 });
    const s = look(retry3.next, mirror(B), run1Failed, at + GRACE, p);
    expect(s.transitions.map((t) => t.reason)).not.toContain(Reason.TriggerAdopted);
    expect(s.action).toEqual({ kind: 'trigger', sha: B, snapshotRef: snapshotRefOf(B), attempt: 3 });
  });
});

describe('a trigger that failed after its run started (Failed TriggerFailed → ClosingOut)', () => {
  const LAG = 90_000;
  const lagging = withPolicy({ statusLagMs: LAG });

  it('the run the adapter then shows is followed (TriggerAdopted), not sent again, and closes out with its flush', () => {
    const failed = failedOnce(B, T0);
    const running = look(failed, mirror(B), status({ run: run('run-1', B, 'Running') }), T0 + 5000);
    expect(running.action).toEqual({ kind: 'none' });
    expect(running.decision).toBe(Decision.InFlight);
    expect(running.next).toMatchObject({
      phase: Phase.ClosingOut,
      inFlight: { sha: B, attempt: 1, runName: 'run-1', startedAt: iso(T0), deadline: iso(T0 + BUDGET) },
      attempts: { count: 1, lastFailedAt: null },
    });
    expect(running.transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      [Phase.Failed, Phase.ClosingOut, Reason.TriggerAdopted],
    ]);
    // The run succeeds and publishes: the machine flushes, then closes out.
    const done = status({ target: B, deployed: B, run: run('run-1', B, 'Succeeded') });
    const flush = look(running.next, mirror(B, true, PENDING), done, T0 + 20_000);
    expect(flush.action).toEqual({ kind: 'flush', sha: B, ref: GITOPS_REF });
    const closed = look(flush.next, mirror(B), done, T0 + 25_000);
    expect(closed.next).toMatchObject({ phase: Phase.Succeeded, lastSucceededSha: B, inFlight: null });
  });

  it('a control plane that targets the sha of a failed first trigger is followed to closeout, never Noop', () => {
    const failed = failedOnce(B, T0);
    const s = look(failed, mirror(B), status({ target: B }), T0 + 5000);
    expect(s.next.phase).toBe(Phase.ClosingOut);
    expect(s.reason).not.toBe(Reason.UpToDate);
    expect(s.message).toBe('run: waiting for runSucceeded, deployedShaMatches');
  });

  it('the adopted run failing is Failed (RunFailed) and retried by the retry policy', () => {
    const adopted = look(failedOnce(B, T0), mirror(B), status({ run: run('run-1', B, 'Running') }), T0 + 5000).next;
    const s = look(adopted, mirror(B), status({ run: run('run-1', B, 'Failed', 'exit 1') }), T0 + 10_000);
    expect(s.next).toMatchObject({ phase: Phase.Failed, reason: Reason.RunFailed, attempts: { lastRunName: 'run-1' } });
    const retry = look(s.next, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF);
    expect(retry.action).toMatchObject({ kind: 'trigger', sha: B, attempt: 2 });
  });

  it('the adopted run past the attempt budget is Failed (BudgetExceeded), counted from the write-ahead', () => {
    const s = look(failedOnce(B, T0), mirror(B), status({ run: run('run-1', B, 'Running') }), T0 + BUDGET + 1);
    expect(s.next).toMatchObject({ phase: Phase.Failed, reason: Reason.BudgetExceeded, inFlight: null });
  });

  it("a run of an earlier attempt, or of another sha, is not adopted; a later attempt's target is not either", () => {
    const earlier = status({ run: run('run-0', B, 'Running') });
    const aheadWithRun0 = look(undefined, mirror(B), earlier, T0).next; // run-0 shown at the write-ahead
    const failed = after(aheadWithRun0, { error: 'timed out' }, T0 + 1000).next;
    expect(look(failed, mirror(B), earlier, T0 + 5000).next.phase).toBe(Phase.Failed);
    expect(look(failedOnce(B, T0), mirror(B), status({ run: run('run-9', C, 'Running') }), T0 + 5000).next.phase).toBe(
      Phase.Failed,
    );
    const attempt2 = after(
      look(failed, mirror(B), earlier, T0 + 1000 + BACKOFF).next,
      { error: 'x' },
      T0 + 2000 + BACKOFF,
    );
    expect(look(attempt2.next, mirror(B), status({ target: B }), T0 + 3000 + BACKOFF).next).toMatchObject({
      phase: Phase.Noop,
    });
  });

  it('a later attempt whose trigger failed is not called up to date while its run may still show', () => {
    const failed = failedOnce(B, T0, lagging);
    const retry = look(failed, mirror(B), status(), T0 + 1000 + LAG, lagging).next;
    const attempt2 = after(retry, { error: 'timed out' }, T0 + 2000 + LAG, lagging).next;
    const early = look(attempt2, mirror(B), status({ target: B }), T0 + 3000 + LAG, lagging);
    expect(early.next.phase).toBe(Phase.Failed);
    expect(early.reason).toBe(Reason.Waiting);
    expect(early.message).toMatch(
      /attempt 2\) failed and the control plane targets it: waiting until .* \(statusLagSeconds\)/,
    );
    const shown = look(
      attempt2,
      mirror(B),
      status({ target: B, run: run('run-2', B, 'Running') }),
      T0 + 4000 + LAG,
      lagging,
    );
    expect(shown.next).toMatchObject({ phase: Phase.ClosingOut, inFlight: { attempt: 2, runName: 'run-2' } });
    const late = look(attempt2, mirror(B), status({ target: B }), T0 + 2000 + 2 * LAG, lagging);
    expect(late.next.phase).toBe(Phase.Noop);
  });

  it("its retry waits the adapter's statusLagSeconds when that is longer than the backoff", () => {
    const failed = failedOnce(B, T0, lagging);
    const early = look(failed, mirror(B), status(), T0 + 1000 + BACKOFF, lagging);
    expect(early.reason).toBe(Reason.RetryBackoff);
    expect(early.message).toBe(
      `retry 2 of ${B.slice(0, 12)} at ${iso(T0 + 1000 + LAG)} (the adapter's statusLagSeconds: a run the failed ` +
        'trigger started shows by then)',
    );
    expect(look(failed, mirror(B), status(), T0 + 1000 + LAG, lagging).action).toMatchObject({ attempt: 2 });
    // Any other failure waits only its backoff.
    const runFailed = look(
      closingOut(B, T0, lagging),
      mirror(B),
      status({ run: run('run-1', B, 'Failed') }),
      T0 + 10_000,
      lagging,
    );
    expect(
      look(runFailed.next, mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 10_000 + BACKOFF, lagging)
        .action,
    ).toMatchObject({ attempt: 2 });
  });

  it('a record of an older version (no attempts.startedAt) counts the budget from its failure', () => {
    const failed = failedOnce(B, T0);
    const { startedAt: _s, ...old } = failed.attempts!;
    const s = look({ ...failed, attempts: old }, mirror(B), status({ run: run('run-1', B, 'Running') }), T0 + 5000);
    expect(s.next.inFlight).toMatchObject({ startedAt: iso(T0 + 1000), deadline: iso(T0 + 1000 + BUDGET) });
  });
});

describe('bounds', () => {
  it('history keeps only the newest historyLimit transitions', () => {
    const p = withPolicy({ historyLimit: 3 });
    const all: Transition[] = [];
    let r: StateRecord | undefined;
    let now = T0;
    for (const sha of [A, B, C, D]) {
      const s = look(r, mirror(sha), status(), (now += 1000), p);
      all.push(...s.transitions);
      const out = after(s.next, { runName: `run-${sha[0]}` }, (now += 1000), p);
      all.push(...out.transitions);
      const done = look(out.next, mirror(sha), closedOut(sha, `run-${sha[0]}`), (now += 1000), p);
      all.push(...done.transitions);
      r = done.next;
      expect(r.history.length).toBeLessThanOrEqual(3);
      expect(r.history).toEqual(all.slice(-3));
    }
    expect(all.length).toBeGreaterThan(10);
  });

  it('triggered keeps only the newest triggeredLimit shas', () => {
    const p = withPolicy({ triggeredLimit: 2 });
    let r: StateRecord | undefined;
    for (const [i, sha] of [A, B, C, D].entries()) {
      r = look(r, mirror(sha), status(), T0 + i * 1000, p).next;
      expect(r.triggered.length).toBeLessThanOrEqual(2);
    }
    expect(r?.triggered).toEqual([C, D]);
  });

  it('a historyLimit or triggeredLimit lowered in the registry applies at once, on a step without any transition', () => {
    let r: StateRecord | undefined;
    for (const [i, sha] of [A, B, C].entries()) r = look(r, mirror(sha), status(), T0 + i * 1000).next;
    expect(r!.history.length).toBeGreaterThan(3);
    expect(r!.triggered).toEqual([A, B, C]);
    const p = withPolicy({ historyLimit: 2, triggeredLimit: 1 });
    // C's write-ahead, not confirmed yet, within the grace: a step that changes nothing else.
    const s = look(r, mirror(C), status(), T0 + 6000, p);
    expect(s.reason).toBe(Reason.Waiting);
    expect(s.transitions).toEqual([]);
    expect(s.next.history).toEqual(r!.history.slice(-2));
    expect(s.next.triggered).toEqual([C]);
  });

  it('lowered limits apply at once in afterTrigger and on a Blocked step too', () => {
    let r: StateRecord | undefined;
    for (const [i, sha] of [A, B, C].entries()) r = look(r, mirror(sha), status(), T0 + i * 1000).next;
    const p = withPolicy({ historyLimit: 1, triggeredLimit: 2 });
    const out = after(r!, { runName: 'run-3' }, T0 + 4000, p);
    expect(out.next.history).toEqual([out.transitions.at(-1)]);
    expect(out.next.triggered).toEqual([B, C]);
    const blocked = look(r, { error: 'git ls-remote: connection refused' }, status(), T0 + 4000, p);
    expect(blocked.next.history).toEqual(r!.history.slice(-1));
    expect(blocked.next.triggered).toEqual([B, C]);
  });

  // The never-again guarantee is as long as the remembered window (state.triggeredLimit): a sha
  // that fell out of it is a new sha again. Pinned so that a change is deliberate.
  it('a sha that fell out of the triggeredLimit window is no longer remembered', () => {
    const p = withPolicy({ triggeredLimit: 2 });
    let r: StateRecord | undefined;
    for (const [i, sha] of [A, B, C].entries()) r = look(r, mirror(sha), status(), T0 + i * 1000, p).next;
    expect(r?.triggered).toEqual([B, C]);
    expect(look(r, mirror(A), status(), T0 + 5000, p).action).toMatchObject({ kind: 'trigger', sha: A, attempt: 1 });
    expect(look(r, mirror(B), status(), T0 + 5000, p).reason).toBe(Reason.AlreadyTriggered);
  });
});

describe('dry-run safety: step and afterTrigger never change their input', () => {
  const cases: [string, () => StateRecord | undefined, MirrorView, StatusView | undefined, number][] = [
    ['new follower, new sha', () => undefined, mirror(B), status(), T0],
    ['write-ahead, unconfirmed, within the grace', () => writtenAhead(B, T0), mirror(B), status(), T0 + 1000],
    ['write-ahead, unconfirmed, past the grace (re-send)', () => writtenAhead(B, T0), mirror(B), status(), T0 + GRACE],
    ['write-ahead, adopted', () => writtenAhead(B, T0), mirror(B), closedOut(B), T0 + 1000],
    ['closing out, succeeded', () => closingOut(B, T0), mirror(B), closedOut(B), T0 + 5000],
    ['closing out, failed', () => closingOut(B, T0), mirror(B), status({ run: run('run-1', B, 'Failed') }), T0 + 5000],
    ['closing out, budget', () => closingOut(B, T0), mirror(B), status(), T0 + BUDGET + 1],
    ['closing out, superseded', () => closingOut(B, T0), mirror(C), status(), T0 + 5000],
    ['failed, retry', () => failedOnce(B, T0), mirror(B), status(), T0 + 10 * BACKOFF],
    ['succeeded, next pass', () => succeeded(B, T0), mirror(C), status(), T0 + 50_000],
    ['status error past deadline', () => closingOut(B, T0), mirror(B), { error: 'x' }, T0 + BUDGET + 1],
    ['mirror error past deadline', () => closingOut(B, T0), { error: 'x' }, status(), T0 + BUDGET + 1],
    ['branch missing past deadline', () => writtenAhead(B, T0), mirror(null), status(), T0 + BUDGET + 1],
    ['mirror sync failed past deadline', () => closingOut(B, T0), syncFailed, status(), T0 + BUDGET + 1],
    ['closing out, flush pending', () => closingOut(B, T0), mirror(B, true, PENDING), closedOut(B), T0 + 5000],
    [
      'closing out, flush pending past deadline',
      () => closingOut(B, T0),
      mirror(B, true, PENDING),
      closedOut(B),
      T0 + BUDGET + 1,
    ],
  ];
  it.each(cases)('%s: a deep-frozen prev is untouched and the step is repeatable', (_, prev, m, st, now) => {
    const r = prev();
    const copy = structuredClone(r);
    const first = step(r === undefined ? undefined : deepFreeze(r), m, st, policy, now);
    const second = step(r, m, st, policy, now);
    expect(r).toEqual(copy);
    expect(second).toEqual(first);
    expect(first.next).not.toBe(r);
    if (r) expect(first.next.history).not.toBe(r.history);
  });

  it('afterTrigger leaves its (frozen) record untouched for both outcomes', () => {
    const wa = deepFreeze(writtenAhead(B, T0));
    const copy = structuredClone(wa);
    afterTrigger(wa, { runName: 'run-1' }, policy, T0 + 1000);
    afterTrigger(wa, { error: 'boom' }, policy, T0 + 1000);
    expect(wa).toEqual(copy);
  });
});

describe('settled followers: the adapter is not asked when no answer could lead to an action', () => {
  const answers: StatusView[] = [
    status(),
    status({ target: B }),
    status({ target: C }),
    closedOut(B),
    status({ run: run('run-9', B, 'Failed') }),
    status({ run: run('run-9', B, 'Running'), target: B }),
    status({ run: run('run-2', C, 'Succeeded'), target: C }),
  ];
  const noteSettled = (s: Step) => {
    noteAll(s);
    return s;
  };

  it('a tip it triggered, with nothing in flight and the branch where it was: Noop Settled, the record as it was', () => {
    const done = succeeded(B);
    const s = noteSettled(settled(done, mirror(B), T0 + 60_000)!);
    expect(s).toMatchObject({
      decision: Decision.Noop,
      reason: Reason.Settled,
      action: { kind: 'none' },
      transitions: [],
    });
    expect({ ...s.next, updatedAt: '' }).toEqual({ ...done, updatedAt: '' });
  });

  it('is settled only where step, whatever the adapter answers, takes no action', () => {
    const records: StateRecord[] = [
      succeeded(B),
      look(succeeded(B), mirror(B), status(), T0 + 20_000).next, // AlreadyTriggered after the control plane moved
      look(succeeded(B), mirror(B), status({ target: B }), T0 + 20_000).next, // Noop after closeout
    ];
    for (const r of records) {
      expect(settled(r, mirror(B), T0 + 60_000), r.phase).toBeDefined();
      for (const a of answers)
        expect(step(r, mirror(B), a, policy, T0 + 60_000).action.kind, `${r.phase} ${JSON.stringify(a)}`).toBe('none');
    }
  });

  it('is not settled on a new tip, with a sha in flight, a failed attempt of the tip, or a tip it never triggered', () => {
    expect(settled(undefined, mirror(B), T0)).toBeUndefined();
    expect(settled(succeeded(B), mirror(C), T0 + 60_000)).toBeUndefined();
    expect(settled(closingOut(B), mirror(B), T0 + 5_000)).toBeUndefined();
    expect(settled(writtenAhead(B), mirror(B), T0 + 5_000)).toBeUndefined();
    expect(settled(failedOnce(B), mirror(B), T0 + 5_000)).toBeUndefined();
    const upToDate = look(undefined, mirror(B), status({ target: B }), T0).next;
    expect(upToDate.phase).toBe(Phase.Noop);
    expect(settled(upToDate, mirror(B), T0 + 60_000)).toBeUndefined();
    expect(settled(succeeded(B), { error: 'unreachable' }, T0 + 60_000)).toBeUndefined();
  });
});

describe('coverage of phases.ts', () => {
  // Runs last in this file: every Reason and every Phase was produced by some test above.
  it('every Reason and every Phase is produced by a test above', () => {
    // RecordUnreadable is the pass's own (it never hands an unreadable record to the machine).
    const passOnly = new Set<string>([Reason.RecordUnreadable]);
    expect(Object.values(Reason).filter((r) => !seenReasons.has(r) && !passOnly.has(r))).toEqual([]);
    expect(Object.values(Phase).filter((p) => !seenPhases.has(p))).toEqual([]);
  });
});
