import { MIRROR_STAGE_PREFIX } from '../observe/observation.ts';
import { snapshotRefName } from '../observe/snapshot-ref.ts';
import { GitMirrorError, GitMirrorReason } from './errors.ts';

export { MIRROR_STAGE_PREFIX };

/** One follower's wish for an immutable snapshot of its branch tip. */
export interface SnapshotTarget {
  /** The adapter that triggers with the snapshot (first path segment under refs/unidesk/snapshots/). */
  readonly adapter: string;
  /** The declared source branch; it must also be in `branches`. */
  readonly branch: string;
}

/** What one sync does to one declared branch's mirror-stage ref (null: the ref is absent). */
interface StageUpdate {
  readonly branch: string;
  readonly ref: string;
  readonly from: string | null;
  readonly to: string;
}

/** What one sync does about one snapshot: create it, or nothing because it is already there. */
interface SnapshotStep {
  readonly adapter: string;
  readonly branch: string;
  readonly ref: string;
  readonly sha: string;
  readonly action: 'create' | 'exists';
}

export interface StagePlan {
  readonly fetched: readonly StageUpdate[];
  readonly snapshots: readonly SnapshotStep[];
}

// A branch or adapter ends up inside a refspec and a ref name, so anything git would read another way
// (a `:` or `+`, `..`, a leading `-` taken for an option, `*`, whitespace, `@{`) is refused up front.
const SEGMENT = /^(?!-)(?!\.)[A-Za-z0-9._-]+(?<!\.lock)(?<!\.)$/;

export function mirrorStageRef(branch: string): string {
  checkName('branch', branch, true);
  return `${MIRROR_STAGE_PREFIX}${branch}`;
}

/** Throws GitMirrorError(InvalidName) unless `name` is a safe branch (slashes allowed) or adapter name. */
export function checkName(kind: 'branch' | 'adapter', name: string, slashes: boolean): void {
  const parts = slashes ? name.split('/') : [name];
  if (name === '' || name.includes('..') || !parts.every((p) => SEGMENT.test(p))) {
    throw new GitMirrorError(
      `${kind} ${JSON.stringify(name)} cannot be used in a git-mirror ref: use letters, digits, '.', '_', '-'` +
        `${slashes ? " and '/' between segments" : ''}, no '..', no leading '-' or '.', no '.lock' ending`,
      { reason: GitMirrorReason.InvalidName },
    );
  }
}

// The whole decision of a sync, from two ref listings: which mirror-stage refs move and which snapshot
// refs to create. It refuses (GitMirrorError) before anything is written: a declared branch missing
// upstream, a snapshot for an undeclared branch, or a snapshot ref already holding another commit —
// a snapshot ref never moves.
export function stagePlan(input: {
  /** The mirror cache's refs (mirror-stage and snapshot refs at least), ref → sha. */
  readonly mirrorRefs: ReadonlyMap<string, string>;
  /** The upstream's branch refs, `refs/heads/<b>` → sha. */
  readonly upstreamRefs: ReadonlyMap<string, string>;
  readonly branches: readonly string[];
  readonly snapshots: readonly SnapshotTarget[];
}): StagePlan {
  const branches = [...new Set(input.branches)];
  const tips = new Map<string, string>();
  const fetched = branches.map((branch): StageUpdate => {
    const ref = mirrorStageRef(branch);
    const to = input.upstreamRefs.get(`refs/heads/${branch}`);
    if (to === undefined) {
      throw new GitMirrorError(
        `declared branch ${branch} does not exist upstream (no refs/heads/${branch}); nothing was fetched. ` +
          'Fix the branch in the registry or create it upstream, then run `branch-follower git-mirror sync ' +
          '--confirm --wait`',
        { reason: GitMirrorReason.BranchMissing, ref: `refs/heads/${branch}` },
      );
    }
    tips.set(branch, to);
    return { branch, ref, from: input.mirrorRefs.get(ref) ?? null, to };
  });
  const seen = new Set<string>();
  const snapshots: SnapshotStep[] = [];
  for (const { adapter, branch } of input.snapshots) {
    checkName('adapter', adapter, false);
    const sha = tips.get(branch);
    if (sha === undefined) {
      throw new GitMirrorError(
        `snapshot for adapter ${adapter} names branch ${branch}, which is not a declared branch of this sync`,
        {
          reason: GitMirrorReason.InvalidName,
        },
      );
    }
    const ref = snapshotRefName(adapter, branch, sha);
    if (seen.has(ref)) continue;
    seen.add(ref);
    const existing = input.mirrorRefs.get(ref);
    if (existing !== undefined && existing !== sha) throw snapshotMoved(ref, existing, sha);
    snapshots.push({ adapter, branch, ref, sha, action: existing === undefined ? 'create' : 'exists' });
  }
  return { fetched, snapshots };
}

/** The error for a snapshot ref that would have to move. */
function snapshotMoved(ref: string, existing: string, wanted: string): GitMirrorError {
  return new GitMirrorError(
    `snapshot ref ${ref} already points at ${existing}, not ${wanted}; snapshot refs never move, so nothing ` +
      `was changed. ` +
      'Find out who wrote that ref (it must name its own commit), then run `branch-follower git-mirror sync ' +
      '--confirm --wait`',
    { reason: GitMirrorReason.SnapshotMoved, ref, existingSha: existing, newSha: wanted },
  );
}

/** The branch of a full GitOps ref `refs/heads/<branch>`; its mirror-stage cache is refs/mirror-stage/<branch>. */
export function gitopsBranch(ref: string): string {
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : '';
  if (branch === '') {
    throw new GitMirrorError(`gitopsRef ${JSON.stringify(ref)} must be a full branch ref, refs/heads/<branch>`, {
      reason: GitMirrorReason.InvalidName,
    });
  }
  checkName('branch', branch, true);
  return branch;
}

/** What a flush does: push a fast-forward, nothing (already equal), or refuse. */
export type FlushAction = 'fast-forward' | 'up-to-date' | 'non-fast-forward';

// Whether pushing the mirror's GitOps ref upstream is a fast-forward. `isAncestor` says whether the
// upstream commit is an ancestor of the local one (ignored when either side settles it alone).
// A missing upstream ref is created, which is a fast-forward from nothing.
export function flushPlan(localGitopsSha: string, upstreamSha: string | null, isAncestor: boolean): FlushAction {
  if (upstreamSha === localGitopsSha) return 'up-to-date';
  if (upstreamSha === null || isAncestor) return 'fast-forward';
  return 'non-fast-forward';
}
