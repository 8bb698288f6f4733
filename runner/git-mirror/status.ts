import { SNAPSHOT_REF_PREFIX, snapshotRefName } from '../observe/snapshot-ref.ts';
import { mirrorRefs, tryGit, type GitRunOptions } from './git.ts';
import { MIRROR_STAGE_PREFIX, checkName, gitopsBranch, mirrorStageRef, type SnapshotTarget } from './stage-plan.ts';

export interface MirrorStatusOptions extends Omit<GitRunOptions, 'transportEnv'> {
  /** The bare mirror cache repository; the only thing status reads. */
  readonly mirrorDir: string;
  readonly branches: readonly string[];
  readonly snapshots: readonly SnapshotTarget[];
  /** The lane's full GitOps ref, `refs/heads/<branch>`. */
  readonly gitopsRef: string;
}

interface BranchStatus {
  readonly branch: string;
  readonly mirrorStageRef: string;
  /** The mirror cache's copy of the upstream branch (null: never synced). */
  readonly cacheSha: string | null;
  /** When a sync last moved the cache ref: the newest reflog entry's time (a no-op fetch adds none). */
  readonly fetchedAt: string | null;
  /** Each follower's snapshot ref of the cached tip and whether it exists. */
  readonly snapshots: readonly { adapter: string; ref: string | null; present: boolean }[];
  /** The lane's GitOps ref in the mirror. */
  readonly gitopsSha: string | null;
  /** The mirror's GitOps commit is not (per the mirror-stage cache) upstream yet. */
  readonly pendingFlush: boolean;
  /** The mirror-stage cache of the GitOps ref equals the mirror's GitOps ref. */
  readonly githubInSync: boolean;
}

export interface MirrorStatus {
  readonly source: 'yaml';
  readonly transport: 'ssh';
  readonly refSources: { readonly githubFieldsAreMirrorStageCache: true; readonly fetchedAt: 'reflog' };
  readonly gitops: {
    readonly ref: string;
    readonly sha: string | null;
    readonly mirrorStageRef: string;
    readonly cacheSha: string | null;
  };
  readonly branches: readonly BranchStatus[];
}

// What the mirror cache says about a lane, read only from the mirror (for-each-ref and reflog): it never
// contacts the upstream, so every GitHub field is the refs/mirror-stage cache, as refSources says.
export async function mirrorStatus(opts: MirrorStatusOptions): Promise<MirrorStatus> {
  const run = { ...opts, transportEnv: {} };
  const gitopsCacheRef = mirrorStageRef(gitopsBranch(opts.gitopsRef));
  const refs = await mirrorRefs(opts.mirrorDir, [MIRROR_STAGE_PREFIX, SNAPSHOT_REF_PREFIX, opts.gitopsRef], run);
  const gitopsSha = refs.get(opts.gitopsRef) ?? null;
  const gitopsCache = refs.get(gitopsCacheRef) ?? null;
  const githubInSync = gitopsSha !== null && gitopsCache === gitopsSha;
  const pendingFlush = gitopsSha !== null && gitopsCache !== gitopsSha;
  const branches = [];
  for (const branch of opts.branches) {
    const ref = mirrorStageRef(branch);
    const cacheSha = refs.get(ref) ?? null;
    const snapshots = opts.snapshots
      .filter((s) => s.branch === branch)
      .map(({ adapter }) => {
        checkName('adapter', adapter, false);
        const snap = cacheSha === null ? null : snapshotRefName(adapter, branch, cacheSha);
        return { adapter, ref: snap, present: snap !== null && refs.get(snap) === cacheSha };
      });
    branches.push({
      branch,
      mirrorStageRef: ref,
      cacheSha,
      fetchedAt: await reflogTime(opts.mirrorDir, ref, run),
      snapshots,
      gitopsSha,
      pendingFlush,
      githubInSync,
    });
  }
  return {
    source: 'yaml',
    transport: 'ssh',
    refSources: { githubFieldsAreMirrorStageCache: true, fetchedAt: 'reflog' },
    gitops: { ref: opts.gitopsRef, sha: gitopsSha, mirrorStageRef: gitopsCacheRef, cacheSha: gitopsCache },
    branches,
  };
}

// sync and flush write every mirror-stage update with a reflog entry (core.logAllRefUpdates=always);
// `%gd` with --date=unix spells its time as `<ref>@{<seconds>}`. No reflog (null) means never synced here.
async function reflogTime(mirrorDir: string, ref: string, run: GitRunOptions): Promise<string | null> {
  const r = await tryGit('reflog', ['show', '-n', '1', '--date=unix', '--format=%gd', ref, '--'], {
    ...run,
    gitDir: mirrorDir,
  });
  const seconds = /@\{(\d+)\}\s*$/.exec(r.ok ? r.stdout.trim() : '')?.[1];
  return seconds === undefined ? null : new Date(Number(seconds) * 1000).toISOString();
}
