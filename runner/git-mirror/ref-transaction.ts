import type { StagePlan } from './stage-plan.ts';

// What a sync still has to do once it has planned. A plan whose mirror-stage refs already hold the
// upstream tips and whose snapshots all exist needs no fetch and no write: the sync ends there (after
// two git processes: the mirror's refs, the upstream's ls-remote).
export function settled(plan: StagePlan): boolean {
  return plan.fetched.every((b) => b.from === b.to) && plan.snapshots.every((s) => s.action === 'exists');
}

/** The branches whose mirror-stage ref must be fetched: absent from the cache, or behind another tip. */
export function movedBranches(plan: StagePlan): StagePlan['fetched'] {
  return plan.fetched.filter((b) => b.from !== b.to);
}

// Every snapshot a plan creates, as one `git update-ref --stdin` transaction: git applies all of it or
// none. `create` fails when the ref exists (so an existing snapshot never moves, even when another
// sync raced this one), and `verify` holds each mirror-stage ref at the tip the snapshots were planned
// from (so an upstream that moved between ls-remote and the fetch refuses the whole transaction rather
// than snapshotting a tip the cache no longer holds). `withVerify: false` is the retry after such a
// refusal, planned from what the cache holds then. Names and shas were checked by the plan (no
// whitespace, no newline), so the line format is unambiguous.
export function snapshotTransaction(plan: StagePlan, opts: { readonly withVerify: boolean }): string {
  const verify = opts.withVerify ? plan.fetched.map((b) => `verify ${b.ref} ${b.to}`) : [];
  const create = plan.snapshots.filter((s) => s.action === 'create').map((s) => `create ${s.ref} ${s.sha}`);
  return ['start', ...verify, ...create, 'commit', ''].join('\n');
}
