import type { FollowerConfig } from '../../core/config/schema.ts';
import { gitopsObserved, MIRROR_STAGE_PREFIX } from '../observe/observation.ts';
import { snapshotRefName } from '../observe/snapshot-ref.ts';
import { byMirror, type MirrorPort } from '../ports.ts';
import type { MirrorView } from '../state-machine.ts';
import { immediate, type CallHook } from './hook.ts';

/** One follower as the mirror sees it: its mirror, branch, adapter (for the snapshot ref) and GitOps ref. */
export interface MirroredFollower {
  readonly mirror: string;
  readonly branch: string;
  readonly adapter: string;
  readonly gitopsRef: string;
}

const stage = (branch: string) => `${MIRROR_STAGE_PREFIX}${branch}`;
const headsPrefix = 'refs/heads/';

// The git mirror in memory: per mirror an upstream (its branches) and the cache that git-mirror sync
// fills (refs/mirror-stage/<branch> and immutable snapshot refs), flush pushes the cache's GitOps
// refs upstream, each mirror's refs together, as fast-forwards only: every commit remembers the one
// it was made on, so a GitOps ref whose upstream moved elsewhere is refused as git refuses it. The
// observation comes from the cache's refs through the same `gitopsObserved` the real observation
// uses. Faults are counters: the next n calls (of flush: the next n mirrors' flushes) fail.
export class MemoryMirror {
  /** Per mirror: upstream branch → commit. */
  readonly upstream = new Map<string, Map<string, string>>();
  /** Per mirror: the cache's refs. */
  readonly cache = new Map<string, Map<string, string>>();
  syncFailures = 0;
  observeFailures = 0;
  flushFailures = 0;
  /** Per mirror: the reads of its upstream, as the real port counts its git ls-remote calls. */
  private readonly upstreamReads = new Map<string, number>();
  private readonly followers: ReadonlyMap<string, MirroredFollower>;
  /** Per commit: the commit it was made on (null: none), from the first time it was seen. */
  private readonly parents = new Map<string, string | null>();
  /** Per mirror, per branch: the followers of it (a sync is linear in the followers, as git's is). */
  private readonly byBranch = new Map<string, Map<string, MirroredFollower[]>>();

  constructor(followers: ReadonlyMap<string, MirroredFollower>) {
    this.followers = followers;
    for (const f of followers.values()) {
      if (!this.upstream.has(f.mirror)) this.upstream.set(f.mirror, new Map());
      if (!this.cache.has(f.mirror)) this.cache.set(f.mirror, new Map());
      const branches = this.byBranch.get(f.mirror) ?? new Map<string, MirroredFollower[]>();
      branches.set(f.branch, [...(branches.get(f.branch) ?? []), f]);
      this.byBranch.set(f.mirror, branches);
    }
  }

  private follower(id: string): MirroredFollower {
    const f = this.followers.get(id);
    if (!f) throw new Error(`memory mirror: no follower ${id}`);
    return f;
  }

  /** A commit `sha` seen for the first time, made on `parent` (what the ref held before it). */
  private made(sha: string, parent: string | undefined): void {
    if (!this.parents.has(sha) && sha !== parent) this.parents.set(sha, parent ?? null);
  }

  /** Whether `ancestor` is `sha` or a commit it was made on, however far back. */
  descends(sha: string, ancestor: string): boolean {
    const seen = new Set<string>();
    for (let at: string | null = sha; at !== null && !seen.has(at); at = this.parents.get(at) ?? null) {
      if (at === ancestor) return true;
      seen.add(at);
    }
    return false;
  }

  /** A push to the upstream branch, on top of its tip (the mirror sees it at the next sync). */
  push(mirror: string, branch: string, sha: string): void {
    const upstream = this.upstream.get(mirror)!;
    this.made(sha, upstream.get(branch));
    upstream.set(branch, sha);
  }

  /** The control plane publishes a GitOps commit into the mirror cache: pending until flushed. */
  publish(followerId: string, sha: string): void {
    const f = this.follower(followerId);
    this.publishRef(f.mirror, f.gitopsRef, sha);
  }

  /** A GitOps commit made on top of what the mirror cache holds at `ref`, written there. */
  publishRef(mirror: string, ref: string, sha: string): void {
    const cache = this.cache.get(mirror)!;
    this.made(sha, cache.get(ref));
    cache.set(ref, sha);
  }

  /**
   * git-mirror sync of one mirror: every upstream branch into refs/mirror-stage/, a snapshot per followed tip (never
   * moved).
   */
  syncOne(mirror: string): string {
    this.readUpstream(mirror);
    const cache = this.cache.get(mirror)!;
    let created = 0;
    for (const [branch, sha] of this.upstream.get(mirror)!) {
      if (branch.startsWith('gitops/')) continue;
      cache.set(stage(branch), sha);
      for (const f of this.byBranch.get(mirror)?.get(branch) ?? []) {
        const ref = snapshotRefName(f.adapter, branch, sha);
        if (!cache.has(ref)) {
          cache.set(ref, sha);
          created++;
        }
      }
    }
    return `${created} snapshot(s) created`;
  }

  private readUpstream(mirror: string): void {
    this.upstreamReads.set(mirror, (this.upstreamReads.get(mirror) ?? 0) + 1);
  }

  /** The follower's view of the cache, as runner/process-ports.ts builds it from a real observation. */
  view(id: string): MirrorView {
    const f = this.follower(id);
    const refs = this.cache.get(f.mirror)!;
    const tip = refs.get(stage(f.branch)) ?? null;
    const g = gitopsObserved(refs, f.gitopsRef);
    const gitops = { ref: f.gitopsRef, pendingFlush: g.pendingFlush, githubInSync: g.githubInSync };
    if (tip === null)
      return {
        tip: null,
        snapshotRef: '',
        snapshotPresent: false,
        gitops: { ref: f.gitopsRef, pendingFlush: false, githubInSync: false },
      };
    const snapshotRef = snapshotRefName(f.adapter, f.branch, tip);
    return { tip, snapshotRef, snapshotPresent: refs.get(snapshotRef) === tip, gitops };
  }

  /**
   * git-mirror flush of GitOps refs of one mirror: each upstream branch fast-forwards to the cache's commit (never
   * forced; one that would not is refused, alone), and the cache records what it confirmed.
   */
  flushRefs(
    mirror: string,
    refs: readonly string[],
  ): Map<string, { ok: boolean; summary: string } | { error: string }> {
    const cache = this.cache.get(mirror)!;
    const upstream = this.upstream.get(mirror)!;
    const out = new Map<string, { ok: boolean; summary: string } | { error: string }>();
    // As git-mirror flush reads the upstream: once to plan when the cache holds any of the refs, once
    // more to recheck when it pushed any.
    if ([...new Set(refs)].some((ref) => cache.has(ref))) this.readUpstream(mirror);
    let pushed = false;
    for (const ref of new Set(refs)) {
      const sha = cache.get(ref);
      if (sha === undefined) {
        out.set(ref, { error: `${ref} is not in the mirror cache` });
        continue;
      }
      const branch = ref.slice(headsPrefix.length);
      const before = upstream.get(branch);
      if (before !== undefined && before !== sha && !this.descends(sha, before)) {
        out.set(ref, {
          error: `upstream ${ref} is at ${before}, which is not an ancestor of the mirror's ${sha}: a non-fast-forward flush is refused and never forced`,
        });
        continue;
      }
      if (before !== sha) pushed = true;
      upstream.set(branch, sha);
      cache.set(stage(branch), sha);
      const summary =
        before === sha
          ? `${ref} is up to date upstream at ${sha}`
          : `fast-forwarded ${ref} upstream to ${sha.slice(0, 12)}`;
      out.set(ref, { ok: true, summary });
    }
    if (pushed) this.readUpstream(mirror);
    return out;
  }

  /** One follower's flush of `ref` (a world's set-up: its GitOps ref already upstream). */
  flushOne(id: string, ref: string): { ok: boolean; summary: string } | { error: string } {
    return this.flushRefs(this.follower(id).mirror, [ref]).get(ref)!;
  }

  port(hook: CallHook = immediate): MirrorPort {
    const port: MirrorPort = {
      sync: (mirrorIds) =>
        hook.around({ port: 'mirror', method: 'sync', writes: true }, () => {
          const out = new Map<string, { summary: string } | { error: string }>();
          for (const id of mirrorIds) {
            if (this.syncFailures > 0) {
              this.syncFailures--;
              out.set(id, { error: 'fetch: connection timed out' });
            } else {
              out.set(id, { summary: this.syncOne(id) });
            }
          }
          return out;
        }),
      observe: (followers: readonly FollowerConfig[]) =>
        hook.around({ port: 'mirror', method: 'observe', writes: false }, () => {
          const out = new Map<string, MirrorView>();
          const fails = this.observeFailures > 0;
          if (fails) this.observeFailures--;
          for (const f of followers)
            out.set(
              f.id,
              fails ? { error: `git ls-remote of mirror ${f.source.mirror}: unreachable` } : this.view(f.id),
            );
          return out;
        }),
      flush: (wanted) =>
        hook.around({ port: 'mirror', method: 'flush', writes: true }, () => {
          const out = new Map<string, { ok: boolean; summary: string } | { error: string }>();
          for (const [mirror, ws] of byMirror(wanted)) {
            if (this.flushFailures > 0) {
              this.flushFailures--;
              for (const w of ws) out.set(w.follower.id, { error: 'git push: connection reset by peer' });
              continue;
            }
            const refs = this.flushRefs(
              mirror,
              ws.map((w) => w.ref),
            );
            for (const w of ws) out.set(w.follower.id, refs.get(w.ref)!);
          }
          return out;
        }),
      upstreamReads: (mirror) => this.upstreamReads.get(mirror) ?? 0,
      // The cache holds a commit once a sync brought it (or the control plane published it there).
      isAncestor: (mirror, ancestor, descendant) =>
        hook.around({ port: 'mirror', method: 'isAncestor', writes: false }, () => {
          const held = [...(this.cache.get(mirror)?.values() ?? [])].some((sha) => this.descends(sha, ancestor));
          return held && this.descends(descendant, ancestor);
        }),
      // The cache is read where it is: a sync then a look, each a call of its own (and its own faults);
      // `early` is told the views of the mirrors whose sync succeeded, once the look is done.
      syncThenObserve: async (mirrorIds, followers, early) => {
        const synced = await port.sync(mirrorIds);
        const views = await port.observe(followers);
        const failed = (f: FollowerConfig) => {
          const r = synced.get(f.source.mirror);
          return r !== undefined && 'error' in r;
        };
        early?.(new Map(followers.filter((f) => !failed(f)).map((f) => [f.id, views.get(f.id)!])));
        return { synced, views };
      },
    };
    return port;
  }
}
