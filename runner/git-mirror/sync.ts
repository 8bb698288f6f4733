import { existsSync } from 'node:fs';
import { SNAPSHOT_REF_PREFIX } from '../observe/snapshot-ref.ts';
import { checkUrl, git, mirrorRefs, upstreamRefs, tryGit, zeroSha, type GitRunOptions } from './git.ts';
import { MIRROR_STAGE_PREFIX, snapshotMoved, stagePlan, type SnapshotTarget, type StagePlan } from './stage-plan.ts';

export interface SyncOptions extends GitRunOptions {
  /** The bare mirror cache repository. */
  readonly mirrorDir: string;
  /** The upstream, reached with `transportEnv`. */
  readonly upstreamUrl: string;
  /** The declared branches; only these are fetched. */
  readonly branches: readonly string[];
  /** One snapshot per follower (adapter, branch) of the branch tip. */
  readonly snapshots: readonly SnapshotTarget[];
  /** Compute the same result from ls-remote and for-each-ref; write nothing. */
  readonly dryRun: boolean;
}

export interface SyncResult {
  readonly dryRun: boolean;
  /** The cache repository did not exist: this sync created it (a dry run: would create it). */
  readonly createdCache: boolean;
  /** Every declared branch's mirror-stage ref, before (null: absent) and after; from === to: unchanged. */
  readonly fetched: readonly { branch: string; from: string | null; to: string }[];
  /** Every snapshot ref of a tip: created by this sync (dry run: would be), or already there. */
  readonly snapshots: readonly { ref: string; sha: string; action: 'created' | 'exists' }[];
}

const STAGE_PREFIXES = [MIRROR_STAGE_PREFIX, SNAPSHOT_REF_PREFIX];

function result(plan: StagePlan, dryRun: boolean, createdCache: boolean): SyncResult {
  return {
    dryRun,
    createdCache,
    fetched: plan.fetched.map(({ branch, from, to }) => ({ branch, from, to })),
    snapshots: plan.snapshots.map(({ ref, sha, action }) => ({
      ref,
      sha,
      action: action === 'create' ? ('created' as const) : ('exists' as const),
    })),
  };
}

// The sync stage: the declared upstream branches into refs/mirror-stage/<b> (one fetch, forced, since
// the cache mirrors whatever upstream holds), then one immutable snapshot ref per follower tip. It plans
// from ls-remote first, so a missing branch or a snapshot that would move fails before anything is
// written (and FETCH_HEAD is not written, so a sync that changes nothing leaves the cache byte-identical),
// and plans again from what the fetch actually stored (upstream may have moved in between).
// Reads: the mirror's mirror-stage and snapshot refs, the upstream's declared branches.
// Writes (not in a dry run): refs/mirror-stage/<b>, new refs/unidesk/snapshots/<adapter>/<b>/<sha>.
export async function sync(opts: SyncOptions): Promise<SyncResult> {
  checkUrl(opts.upstreamUrl);
  // A fresh cache claim has no repository yet: the first sync creates it (a dry run only says so).
  const fresh = !existsSync(opts.mirrorDir);
  if (fresh && !opts.dryRun) {
    await git('init', ['--quiet', '--bare', opts.mirrorDir], {
      ...opts,
      side: 'cache',
      doing: `creating the mirror cache repository ${opts.mirrorDir}`,
    });
  }
  const before =
    fresh && opts.dryRun ? new Map<string, string>() : await mirrorRefs(opts.mirrorDir, STAGE_PREFIXES, opts);
  const upstream = await upstreamRefs(
    opts.upstreamUrl,
    opts.branches.map((b) => `refs/heads/${b}`),
    opts,
  );
  const planned = stagePlan({
    mirrorRefs: before,
    upstreamRefs: upstream,
    branches: opts.branches,
    snapshots: opts.snapshots,
  });
  if (opts.dryRun) return result(planned, true, fresh);

  const refspecs = planned.fetched.map(({ branch, ref }) => `+refs/heads/${branch}:${ref}`);
  await git('fetch', ['--prune', '--no-tags', '--no-write-fetch-head', opts.upstreamUrl, ...refspecs], {
    ...opts,
    gitDir: opts.mirrorDir,
    side: 'upstream',
    doing: `fetch of ${opts.branches.join(', ')} from ${opts.upstreamUrl}`,
  });
  const fetchedRefs = await mirrorRefs(opts.mirrorDir, [MIRROR_STAGE_PREFIX], opts);
  const stored = new Map(
    planned.fetched.map(({ branch, ref }) => [`refs/heads/${branch}`, fetchedRefs.get(ref) ?? '']),
  );
  const plan = stagePlan({
    mirrorRefs: before,
    upstreamRefs: stored,
    branches: opts.branches,
    snapshots: opts.snapshots,
  });
  const snapshots = [];
  for (const step of plan.snapshots) {
    snapshots.push({
      ref: step.ref,
      sha: step.sha,
      action: step.action === 'exists' ? ('exists' as const) : await createSnapshot(opts, step.ref, step.sha),
    });
  }
  return {
    dryRun: false,
    createdCache: fresh,
    fetched: plan.fetched.map(({ branch, from, to }) => ({ branch, from, to })),
    snapshots,
  };
}

// The all-zero old value makes update-ref create the ref or fail: it never moves an existing one, even
// when another sync raced this one. After such a failure the ref is read back to tell which case it was.
async function createSnapshot(opts: SyncOptions, ref: string, sha: string): Promise<'created' | 'exists'> {
  const r = await tryGit('update-ref', ['-m', 'branch-follower git-mirror sync: snapshot', ref, sha, zeroSha(sha)], {
    ...opts,
    gitDir: opts.mirrorDir,
  });
  if (r.ok) return 'created';
  const now = (await mirrorRefs(opts.mirrorDir, [ref], opts)).get(ref);
  if (now === sha) return 'exists';
  if (now !== undefined) throw snapshotMoved(ref, now, sha);
  return git('update-ref', [ref, sha, zeroSha(sha)], {
    ...opts,
    gitDir: opts.mirrorDir,
    side: 'cache',
    doing: `creating snapshot ref ${ref}`,
  }).then(() => 'created' as const);
}
