import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig, MirrorConfig } from '../../core/config/schema.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import { MirrorError } from '../observe/mirror-error.ts';
import { gitopsObserved } from '../observe/observation.ts';
import { readMirror } from '../observe/read-mirror.ts';
import { snapshotRefName } from '../observe/snapshot-ref.ts';
import { mirrorStageRef } from './stage-plan.ts';
import { followerMirrorStatus, type StageMounts } from './stages.ts';

// What `git-mirror status` shows of each follower: its branch and GitOps ref, read either from the
// mirror cache on disk (with the reflog's fetched-at) or from the mirror as it is served (one
// ls-remote per mirror, the same listing the pass observes with). Reads only.

/** One follower's branch and GitOps ref as the mirror holds them. */
export interface FollowerMirrorRow {
  readonly follower: string;
  readonly mirror: string;
  readonly branch: string;
  /** refs/mirror-stage/<branch>: the mirror's copy of the upstream branch (null: never synced). */
  readonly cacheSha: string | null;
  /** When a sync last moved it (the cache's reflog); `unknown` when read from the served mirror. */
  readonly fetchedAt: string | null | 'unknown';
  /** The follower's snapshot ref of the cached tip; null when there is no cached tip. */
  readonly snapshot: { readonly ref: string; readonly present: boolean } | null;
  readonly gitopsRef: string;
  readonly gitopsSha: string | null;
  readonly pendingFlush: boolean;
  readonly githubInSync: boolean;
}

/** A mirror or follower that could not be read, with the error that says why. */
interface RowFailure {
  readonly mirror: string;
  readonly follower: string | null;
  readonly error: BranchFollowerError;
}

export interface MirrorRows {
  readonly rows: FollowerMirrorRow[];
  readonly failures: RowFailure[];
}

const ours = (err: unknown): BranchFollowerError => {
  if (err instanceof BranchFollowerError) return err;
  throw err;
};

/** One follower's row from a listing of the served mirror's refs; pure, same rules as the cache status. */
function rowFromRefs(f: FollowerConfig, gitopsRef: string, refs: ReadonlyMap<string, string>): FollowerMirrorRow {
  const cacheSha = refs.get(mirrorStageRef(f.source.branch)) ?? null;
  const gitops = gitopsObserved(refs, gitopsRef);
  const snapshot = cacheSha === null ? null : snapshotRefName(f.adapter, f.source.branch, cacheSha);
  return {
    follower: f.id,
    mirror: f.source.mirror,
    branch: f.source.branch,
    cacheSha,
    fetchedAt: 'unknown',
    snapshot: snapshot === null ? null : { ref: snapshot, present: refs.get(snapshot) === cacheSha },
    gitopsRef,
    gitopsSha: gitops.sha,
    pendingFlush: gitops.pendingFlush,
    githubInSync: gitops.githubInSync,
  };
}

/** The rows from the mirror cache on disk, one follower at a time. */
export async function cacheRows(
  loaded: LoadedRegistry,
  followers: readonly FollowerConfig[],
  mounts: StageMounts,
  pathEnv: string,
): Promise<MirrorRows> {
  const out: MirrorRows = { rows: [], failures: [] };
  for (const f of followers) {
    try {
      const s = await followerMirrorStatus(loaded, f.id, mounts, { pathEnv });
      const b = s.branches[0]!;
      const snap = b.snapshots[0];
      out.rows.push({
        follower: f.id,
        mirror: f.source.mirror,
        branch: b.branch,
        cacheSha: b.cacheSha,
        fetchedAt: b.fetchedAt,
        snapshot: snap && snap.ref !== null ? { ref: snap.ref, present: snap.present } : null,
        gitopsRef: s.gitops.ref,
        gitopsSha: s.gitops.sha,
        pendingFlush: b.pendingFlush,
        githubInSync: b.githubInSync,
      });
    } catch (err) {
      out.failures.push({ mirror: f.source.mirror, follower: f.id, error: ours(err) });
    }
  }
  return out;
}

/** The rows from the mirrors as they are served: one ls-remote per mirror; fetched-at is unknown. */
export async function servedRows(
  loaded: LoadedRegistry,
  mirrors: readonly MirrorConfig[],
  followers: readonly FollowerConfig[],
  pathEnv: string,
): Promise<MirrorRows> {
  const timeoutMs = loaded.registry.controller.gitMirror.gitTimeoutSeconds * 1000;
  const out: MirrorRows = { rows: [], failures: [] };
  for (const m of mirrors) {
    let refs: ReadonlyMap<string, string>;
    try {
      refs = await readMirror(m.url, { timeoutMs, pathEnv, mirror: m.id });
    } catch (err) {
      if (!(err instanceof MirrorError)) throw err;
      out.failures.push({ mirror: m.id, follower: null, error: err });
      continue;
    }
    for (const f of followers.filter((x) => x.source.mirror === m.id))
      out.rows.push(rowFromRefs(f, gitopsRefOf(loaded, f.id), refs));
  }
  return out;
}
