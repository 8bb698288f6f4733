import { existsSync } from 'node:fs';
import { SNAPSHOT_REF_PREFIX } from '../observe/snapshot-ref.ts';
import { checkUrl, git, mirrorRefs, upstreamRefs, tryGit, type GitRunOptions } from './git.ts';
import { movedBranches, settled, snapshotTransaction } from './ref-transaction.ts';
import { MIRROR_STAGE_PREFIX, mirrorStageRef, stagePlan, type SnapshotTarget, type StagePlan } from './stage-plan.ts';

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
  /**
   * Reads the mirror as it is served (the URL a pass looks at), ref → sha; undefined when it cannot be read. When
   * given, it is read beside the upstream, and a sync that finds in it every upstream tip and snapshot ends there:
   * no read of the cache, nothing written, and the read is returned (`served`) for the look that follows.
   */
  readonly served?: () => Promise<ReadonlyMap<string, string> | undefined>;
}

export interface SyncResult {
  readonly dryRun: boolean;
  /** The cache repository did not exist: this sync created it (a dry run: would create it). */
  readonly createdCache: boolean;
  /** Every declared branch's mirror-stage ref, before (null: absent) and after; from === to: unchanged. */
  readonly fetched: readonly { branch: string; from: string | null; to: string }[];
  /** Every snapshot ref of a tip: created by this sync (dry run: would be), or already there. */
  readonly snapshots: readonly { ref: string; sha: string; action: 'created' | 'exists' }[];
  /** The mirror as served, when the sync ended on it (see SyncOptions.served): nothing was read of the cache. */
  readonly served?: ReadonlyMap<string, string>;
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

// The sync stage: the declared upstream branches into refs/mirror-stage/<b>, then one immutable snapshot
// ref per follower tip. It plans from for-each-ref and ls-remote first, so a missing branch or a
// snapshot that would move fails before anything is written. A plan with nothing to do ends there: no
// fetch, no write, the cache untouched. Otherwise one fetch of the branches that moved (forced, since
// the cache mirrors whatever upstream holds; FETCH_HEAD is not written) and every new snapshot in one
// update-ref transaction that also verifies the mirror-stage refs hold the planned tips. When that
// transaction is refused (upstream moved in between, or another sync created a snapshot first),
// nothing of it was written, and the sync plans again from what the cache holds now.
// A pass hands it a read of the mirror as served (`served`): that read, beside the upstream's, is all a
// sync that finds nothing to do costs, and the pass's look then takes the same read, so a look that
// finds nothing new starts two git processes per mirror (the served read always happens, so a mirror
// whose URL cannot be served is never hidden behind a cache that can be read).
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
  const readUpstream = () =>
    upstreamRefs(
      opts.upstreamUrl,
      opts.branches.map((b) => `refs/heads/${b}`),
      opts,
    );
  let upstream: Map<string, string> | undefined;
  if (opts.served && !fresh && !opts.dryRun) {
    const [served, read] = await Promise.all([opts.served(), readUpstream()]);
    upstream = read;
    if (served !== undefined && settledOn(served, read, opts)) {
      return { ...result(plan(served, read, opts), false, false), served };
    }
  }
  const before =
    fresh && opts.dryRun ? new Map<string, string>() : await mirrorRefs(opts.mirrorDir, STAGE_PREFIXES, opts);
  upstream ??= await readUpstream();
  const planned = stagePlan({
    mirrorRefs: before,
    upstreamRefs: upstream,
    branches: opts.branches,
    snapshots: opts.snapshots,
  });
  if (opts.dryRun || settled(planned)) return result(planned, opts.dryRun, fresh);

  const moved = movedBranches(planned);
  if (moved.length > 0) {
    const refspecs = moved.map(({ branch, ref }) => `+refs/heads/${branch}:${ref}`);
    await git('fetch', ['--prune', '--no-tags', '--no-write-fetch-head', opts.upstreamUrl, ...refspecs], {
      ...opts,
      gitDir: opts.mirrorDir,
      side: 'upstream',
      doing: `fetch of ${moved.map((b) => b.branch).join(', ')} from ${opts.upstreamUrl}`,
    });
  }
  const first = await updateRefs(opts, snapshotTransaction(planned, { withVerify: true }), tryGit);
  if (first.ok) return result(planned, false, fresh);
  return result(await replan(opts, before), false, fresh);
}

const plan = (mirror: ReadonlyMap<string, string>, upstream: ReadonlyMap<string, string>, opts: SyncOptions) =>
  stagePlan({ mirrorRefs: mirror, upstreamRefs: upstream, branches: opts.branches, snapshots: opts.snapshots });

// Whether the mirror as served already holds every upstream tip and its snapshots. A plan that would
// refuse (a branch gone upstream, a snapshot that would move) is not decided here: the sync plans
// again from the cache itself, and refuses from there.
function settledOn(
  served: ReadonlyMap<string, string>,
  upstream: ReadonlyMap<string, string>,
  opts: SyncOptions,
): boolean {
  try {
    return settled(plan(served, upstream, opts));
  } catch {
    return false;
  }
}

// After a refused transaction: the mirror-stage refs as the fetch left them, each snapshot as it is
// now. A snapshot another sync created with the same sha exists; one holding another commit is the
// SnapshotMoved refusal; the rest are created in one more transaction, which must succeed.
async function replan(opts: SyncOptions, before: ReadonlyMap<string, string>): Promise<StagePlan> {
  const now = await mirrorRefs(opts.mirrorDir, STAGE_PREFIXES, opts);
  const stored = new Map(opts.branches.map((b) => [`refs/heads/${b}`, now.get(mirrorStageRef(b)) ?? '']));
  // `from` stays what the cache held before this sync, so the result says what the sync moved.
  const known = new Map([...before].filter(([ref]) => ref.startsWith(MIRROR_STAGE_PREFIX)));
  for (const [ref, sha] of now) if (ref.startsWith(SNAPSHOT_REF_PREFIX)) known.set(ref, sha);
  const plan = stagePlan({
    mirrorRefs: known,
    upstreamRefs: stored,
    branches: opts.branches,
    snapshots: opts.snapshots,
  });
  if (plan.snapshots.some((s) => s.action === 'create')) {
    await updateRefs(opts, snapshotTransaction(plan, { withVerify: false }), (sub, args, o) =>
      git(sub, args, { ...o, side: 'cache', doing: 'creating snapshot refs' }),
    );
  }
  return plan;
}

function updateRefs<T>(
  opts: SyncOptions,
  transaction: string,
  run: (
    subcommand: string,
    args: readonly string[],
    o: GitRunOptions & { gitDir: string; input: string },
  ) => Promise<T>,
): Promise<T> {
  return run('update-ref', ['-m', 'branch-follower git-mirror sync: snapshot', '--stdin'], {
    ...opts,
    gitDir: opts.mirrorDir,
    input: transaction,
  });
}
