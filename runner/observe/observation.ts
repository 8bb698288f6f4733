import type { FollowerConfig, MirrorConfig } from '../../core/config/schema.ts';
import { MirrorError } from './mirror-error.ts';
import { snapshotRefName } from './snapshot-ref.ts';

/**
 * Where git-mirror sync keeps the mirror cache's copy of each upstream branch (and flush the confirmed GitOps commit).
 */
export const MIRROR_STAGE_PREFIX = 'refs/mirror-stage/';

/** Which mirror a follower was observed through. */
interface Through {
  /** The mirror id (registry `mirrors[].id`). */
  readonly mirror: string;
  /** The URL that was read. */
  readonly url: string;
}

/** The follower's GitOps ref in the mirror against the mirror-stage cache of its upstream copy. */
export interface GitopsObserved {
  /** The full GitOps ref, refs/heads/<branch>. */
  readonly ref: string;
  /** The mirror's GitOps commit (null: nothing published yet). */
  readonly sha: string | null;
  /** What the upstream was last confirmed to hold (refs/mirror-stage/<branch>; null: never). */
  readonly cacheSha: string | null;
  /** The mirror's GitOps commit is not confirmed upstream yet. */
  readonly pendingFlush: boolean;
  /** The mirror's GitOps commit is confirmed upstream. */
  readonly githubInSync: boolean;
}

/** The branch exists in the mirror cache: its tip, and the snapshot ref that commit should have. */
interface TipObserved extends Through {
  readonly tip: string;
  /** `refs/unidesk/snapshots/<adapter>/<branch>/<tip>`, whether or not the mirror has it. */
  readonly snapshotRef: string;
  readonly snapshotPresent: boolean;
  /** What the snapshot ref points at, or null when it is absent. */
  readonly snapshotSha: string | null;
  readonly gitops: GitopsObserved;
}

/** The mirror was read but has no such branch, so there is no commit and no snapshot ref to name. */
interface BranchAbsent extends Through {
  readonly tip: null;
  readonly snapshotRef: null;
  readonly snapshotPresent: false;
  readonly snapshotSha: null;
}

/** The mirror could not be read; nothing is known about the branch. */
interface MirrorUnreadable extends Through {
  readonly error: MirrorError;
}

export type FollowerObservation = TipObserved | BranchAbsent | MirrorUnreadable;

/** One pass's view of every follower's branch, by follower id. */
export type Observation = ReadonlyMap<string, FollowerObservation>;

/** What one `git ls-remote` of a URL gave: ref → sha, or why it failed. */
export type LsRemoteResult = ReadonlyMap<string, string> | MirrorError;

/** What observation reads of the registry (a `Registry` is one): mirrors and followers' sources. */
export interface ObservedRegistry {
  readonly mirrors: readonly Pick<MirrorConfig, 'id' | 'url'>[];
  readonly followers: readonly Pick<FollowerConfig, 'id' | 'adapter' | 'source'>[];
}

/** The mirror a follower names; the first declaration wins, as in the registry cross-checks. */
function mirrorOf(registry: ObservedRegistry, id: string): Pick<MirrorConfig, 'id' | 'url'> {
  const mirror = registry.mirrors.find((m) => m.id === id);
  if (!mirror) throw new Error(`follower mirror "${id}" is not declared; the registry was not validated`);
  return mirror;
}

// Several followers (and even several mirror ids) may share a URL; it is read once. Lists only URLs
// that some follower is observed through, with the mirror ids served there (for messages).
export function mirrorReads(registry: ObservedRegistry): ReadonlyMap<string, readonly string[]> {
  const reads = new Map<string, string[]>();
  for (const f of registry.followers) {
    const mirror = mirrorOf(registry, f.source.mirror);
    const ids = reads.get(mirror.url) ?? [];
    if (!ids.includes(mirror.id)) ids.push(mirror.id);
    reads.set(mirror.url, ids);
  }
  return reads;
}

/** The GitOps fields from a ref listing: pending until the mirror-stage cache confirms the mirror's commit. */
export function gitopsObserved(refs: ReadonlyMap<string, string>, ref: string): GitopsObserved {
  const sha = refs.get(ref) ?? null;
  const cacheSha = refs.get(`${MIRROR_STAGE_PREFIX}${ref.slice('refs/heads/'.length)}`) ?? null;
  return {
    ref,
    sha,
    cacheSha,
    pendingFlush: sha !== null && cacheSha !== sha,
    githubInSync: sha !== null && cacheSha === sha,
  };
}

// Turns the ls-remote answers (by URL) into each follower's observation, disabled followers included
// (they are reported, never triggered). The tip is the mirror cache's copy of the branch
// (refs/mirror-stage/<branch>, written only by git-mirror sync), never the mirror's own branch ref.
// Pure: the same answers always give the same observation.
export function followerObservations(
  registry: ObservedRegistry,
  results: ReadonlyMap<string, LsRemoteResult>,
  gitopsRefs: ReadonlyMap<string, string>,
): Map<string, FollowerObservation> {
  const out = new Map<string, FollowerObservation>();
  for (const f of registry.followers) {
    const { id: mirror, url } = mirrorOf(registry, f.source.mirror);
    const refs = results.get(url);
    if (refs === undefined) throw new Error(`no ls-remote result for ${url} (mirror ${mirror}, follower ${f.id})`);
    if (refs instanceof MirrorError) {
      out.set(f.id, { mirror, url, error: refs });
      continue;
    }
    const tip = refs.get(`${MIRROR_STAGE_PREFIX}${f.source.branch}`);
    if (tip === undefined) {
      out.set(f.id, { mirror, url, tip: null, snapshotRef: null, snapshotPresent: false, snapshotSha: null });
      continue;
    }
    const snapshotRef = snapshotRefName(f.adapter, f.source.branch, tip);
    const snapshotSha = refs.get(snapshotRef) ?? null;
    const gitopsRef = gitopsRefs.get(f.id);
    if (gitopsRef === undefined) throw new Error(`no GitOps ref for follower ${f.id}; the registry was not validated`);
    out.set(f.id, {
      mirror,
      url,
      tip,
      snapshotRef,
      snapshotPresent: snapshotSha !== null,
      snapshotSha,
      gitops: gitopsObserved(refs, gitopsRef),
    });
  }
  return out;
}
