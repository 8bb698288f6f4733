import { describe, expect, it } from 'vitest';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import type { AdapterPort, FlushWanted, MirrorPort } from '../../runner/ports.ts';

// One contract for the mirror and adapter ports, run against the real ones (git over SSH into a
// mirror cache served by a git daemon, and the UniDesk CLI doubles: test/integration/
// outside-ports.contract.test.ts) and against the in-memory ones the simulation uses
// (test/unit/memory-ports.contract.test.ts).

/** One follower's outside world, as an implementation provides it. */
export interface OutsideSubject {
  readonly follower: FollowerConfig;
  readonly mirror: MirrorPort;
  readonly adapters: AdapterPort;
  /** A new commit on the follower's branch upstream (the mirror sees it at the next sync); its sha. */
  pushUpstream(): Promise<string>;
  /** The control plane's current run ends Succeeded (and publishes its GitOps commit into the mirror). */
  finishRun(): Promise<void>;
  /** A follower of another mirror than `follower`'s. */
  readonly other: FollowerConfig;
  /** A new GitOps commit in the mirror cache of `f`'s mirror at `ref`, made on what the cache holds there; its sha. */
  publish(f: FollowerConfig, ref: string): Promise<string>;
  /** Someone else's commit on `ref` upstream, made on the upstream's: the mirror cache does not hold it; its sha. */
  pushForeign(f: FollowerConfig, ref: string): Promise<string>;
  /** What the upstream of `f`'s mirror holds at `ref` (undefined: absent). */
  upstreamSha(f: FollowerConfig, ref: string): Promise<string | undefined>;
}

/** A copy of `f` under another id: another follower of the same mirror, with a GitOps ref of its own. */
const sibling = (f: FollowerConfig, name: string): FollowerConfig => ({ ...f, id: `${f.id}-${name}` });

/** The one answer of a flush of one follower's ref. */
async function flushOne(mirror: MirrorPort, follower: FollowerConfig, ref: string) {
  return (await mirror.flush([{ follower, ref }])).get(follower.id);
}

export function outsideContract(name: string, make: () => Promise<OutsideSubject>, timeoutMs: number): void {
  describe(`${name}: the mirror and adapter ports`, () => {
    it(
      'sync brings a push into the cache with its snapshot, trigger starts a run the status shows, flush puts the ' +
        'published GitOps commit upstream',
      async () => {
        const w = await make();
        const f = w.follower;
        const look = async () => {
          const v = (await w.mirror.observe([f])).get(f.id);
          if (!v || 'error' in v) throw new Error(`observe failed: ${JSON.stringify(v)}`);
          return v;
        };
        const sha = await w.pushUpstream();
        expect((await look()).tip).not.toBe(sha);

        const synced = (await w.mirror.sync([f.source.mirror])).get(f.source.mirror);
        expect(synced).toMatchObject({ summary: expect.stringContaining('1 snapshot(s) created') });
        const seen = await look();
        const ref = snapshotRefName(f.adapter, f.source.branch, sha);
        expect(seen).toMatchObject({ tip: sha, snapshotRef: ref, snapshotPresent: true });
        expect((await w.mirror.sync([f.source.mirror])).get(f.source.mirror)).toMatchObject({
          summary: expect.stringContaining('0 snapshot(s) created'),
        });

        const before = await w.adapters.status(f, sha, ref);
        expect(before).toMatchObject({ status: { run: null } });
        const sent = await w.adapters.trigger(f, sha, ref);
        if ('error' in sent) throw new Error(`trigger failed: ${sent.error}`);
        expect(sent.runName).not.toBe('');
        expect(await w.adapters.status(f, sha, ref)).toMatchObject({ status: { run: { name: sent.runName, sha } } });

        await w.finishRun();
        expect(await w.adapters.status(f, sha, ref)).toMatchObject({
          status: { targetSha: sha, run: { name: sent.runName, sha, phase: 'Succeeded' } },
        });
        const published = await look();
        expect(published.gitops).toMatchObject({ pendingFlush: true, githubInSync: false });

        const flushed = await flushOne(w.mirror, f, published.gitops.ref);
        expect(flushed).toMatchObject({ ok: true });
        expect((await look()).gitops).toMatchObject({
          ref: published.gitops.ref,
          pendingFlush: false,
          githubInSync: true,
        });
      },
      timeoutMs,
    );

    it(
      'isAncestor answers from the cache: a synced push holds its parent and itself; a commit the cache lacks, or ' +
        'one beside the branch, is no ancestor',
      async () => {
        const w = await make();
        const m = w.follower.source.mirror;
        const first = await w.pushUpstream();
        await w.mirror.sync([m]);
        const second = await w.pushUpstream();
        // Not synced yet: the cache does not hold it, so it is under nothing.
        expect(await w.mirror.isAncestor(m, second, first)).toBe(false);
        await w.mirror.sync([m]);
        expect(await w.mirror.isAncestor(m, first, second)).toBe(true);
        expect(await w.mirror.isAncestor(m, second, second)).toBe(true);
        expect(await w.mirror.isAncestor(m, second, first)).toBe(false);
        const beside = await w.publish(w.follower, 'refs/heads/gitops/contract-beside');
        expect(await w.mirror.isAncestor(m, beside, second)).toBe(false);
        expect(await w.mirror.isAncestor(m, second, beside)).toBe(false);
      },
      timeoutMs,
    );

    it(
      'flushing a ref the mirror does not hold is an error answer, never a throw',
      async () => {
        const w = await make();
        const flushed = await flushOne(w.mirror, w.follower, 'refs/heads/gitops/never-published');
        expect(flushed).toMatchObject({ error: expect.any(String) });
      },
      timeoutMs,
    );

    it(
      'syncThenObserve answers as sync then observe do: a push, nothing new, a published GitOps commit',
      async () => {
        const w = await make();
        const f = w.follower;
        const both = async () => {
          const told = new Map<string, unknown>();
          const r = await w.mirror.syncThenObserve([f.source.mirror], [f], (views) => {
            for (const [id, v] of views) told.set(id, v);
          });
          const v = r.views.get(f.id);
          if (!v || 'error' in v) throw new Error(`look failed: ${JSON.stringify(v)}`);
          // What `early` was told is what the call returns.
          for (const [id, early] of told) expect(early).toEqual(r.views.get(id));
          return { synced: r.synced.get(f.source.mirror), view: v, told };
        };
        const sha = await w.pushUpstream();
        const ref = snapshotRefName(f.adapter, f.source.branch, sha);
        const moved = await both();
        expect(moved.synced).toMatchObject({ summary: expect.stringContaining('1 snapshot(s) created') });
        expect(moved.view).toMatchObject({ tip: sha, snapshotRef: ref, snapshotPresent: true });

        const idle = await both();
        expect(idle.synced).toMatchObject({ summary: expect.stringContaining('0 snapshot(s) created') });
        expect(idle.view).toEqual((await w.mirror.observe([f])).get(f.id));
        // Nothing to sync: the follower's view is known early.
        expect(idle.told.get(f.id)).toEqual(idle.view);

        const sent = await w.adapters.trigger(f, sha, ref);
        if ('error' in sent) throw new Error(`trigger failed: ${sent.error}`);
        await w.finishRun();
        expect(await w.adapters.status(f, sha, ref)).toMatchObject({ status: { run: { phase: 'Succeeded' } } });
        const published = await both();
        expect(published.view).toMatchObject({ tip: sha, gitops: { pendingFlush: true, githubInSync: false } });
        expect(published.view).toEqual((await w.mirror.observe([f])).get(f.id));
      },
      timeoutMs,
    );

    it(
      "one flush of a mirror's refs: the one up to date stays, the one behind fast-forwards, the one that " +
        'diverged upstream is refused alone and never forced',
      async () => {
        const w = await make();
        const [same, behind, diverged] = ['same', 'behind', 'diverged'].map((name) => ({
          follower: sibling(w.follower, name),
          ref: `refs/heads/gitops/contract-${name}`,
        })) as [FlushWanted, FlushWanted, FlushWanted];
        const all = [same, behind, diverged];
        const first = new Map<string, string>();
        for (const x of all) first.set(x.ref, await w.publish(x.follower, x.ref));
        const created = await w.mirror.flush(all);
        for (const x of all) {
          expect(created.get(x.follower.id)).toMatchObject({ ok: true });
          expect(await w.upstreamSha(x.follower, x.ref)).toBe(first.get(x.ref));
        }

        const ahead = await w.publish(behind.follower, behind.ref);
        const foreign = await w.pushForeign(diverged.follower, diverged.ref);
        const local = await w.publish(diverged.follower, diverged.ref);
        expect(local).not.toBe(foreign);
        const r = await w.mirror.flush(all);
        expect(r.get(same.follower.id)).toMatchObject({ ok: true, summary: expect.stringContaining('up to date') });
        expect(r.get(behind.follower.id)).toMatchObject({
          ok: true,
          summary: expect.stringContaining('fast-forwarded'),
        });
        expect(r.get(diverged.follower.id)).toMatchObject({
          error: expect.stringMatching(/non-fast-forward flush is refused and never forced/),
        });
        expect(await w.upstreamSha(same.follower, same.ref)).toBe(first.get(same.ref));
        expect(await w.upstreamSha(behind.follower, behind.ref)).toBe(ahead);
        expect(await w.upstreamSha(diverged.follower, diverged.ref)).toBe(foreign);
      },
      timeoutMs,
    );

    it(
      "one flush over two mirrors: each mirror's refs go to its own upstream, and a ref one mirror does not " +
        'hold fails only its follower',
      async () => {
        const w = await make();
        const here = { follower: w.follower, ref: 'refs/heads/gitops/contract-here' };
        const there = { follower: w.other, ref: 'refs/heads/gitops/contract-there' };
        const missing = { follower: sibling(w.other, 'missing'), ref: 'refs/heads/gitops/contract-never-published' };
        expect(here.follower.source.mirror).not.toBe(there.follower.source.mirror);
        const shaHere = await w.publish(here.follower, here.ref);
        const shaThere = await w.publish(there.follower, there.ref);
        const r = await w.mirror.flush([here, there, missing]);
        expect(r.get(here.follower.id)).toMatchObject({ ok: true });
        expect(r.get(there.follower.id)).toMatchObject({ ok: true });
        expect(r.get(missing.follower.id)).toMatchObject({ error: expect.any(String) });
        expect(await w.upstreamSha(here.follower, here.ref)).toBe(shaHere);
        expect(await w.upstreamSha(there.follower, there.ref)).toBe(shaThere);
        expect(await w.upstreamSha(there.follower, here.ref)).toBeUndefined();
        expect(await w.upstreamSha(here.follower, there.ref)).toBeUndefined();
      },
      timeoutMs,
    );

    it(
      'upstreamReads counts the reads of each upstream: one per sync, two for a flush that pushes (its plan and its ' +
        'recheck), one for one with nothing to push, none for a look, an ancestry question or a ref the cache lacks',
      async () => {
        const w = await make();
        const f = w.follower;
        const m = f.source.mirror;
        const other = w.other.source.mirror;
        const start = w.mirror.upstreamReads(m);
        const otherStart = w.mirror.upstreamReads(other);
        const reads = () => w.mirror.upstreamReads(m) - start;
        const first = await w.pushUpstream();
        await w.mirror.sync([m]);
        expect(reads()).toBe(1);
        await w.mirror.observe([f]);
        await w.mirror.isAncestor(m, first, first);
        expect(reads()).toBe(1);
        await w.pushUpstream();
        await w.mirror.syncThenObserve([m], [f]);
        expect(reads()).toBe(2);
        const ref = 'refs/heads/gitops/contract-reads';
        await w.publish(f, ref);
        expect(await flushOne(w.mirror, f, ref)).toMatchObject({ ok: true });
        expect(reads()).toBe(4);
        expect(await flushOne(w.mirror, f, ref)).toMatchObject({ ok: true });
        expect(reads()).toBe(5);
        expect(await flushOne(w.mirror, f, 'refs/heads/gitops/contract-never-read')).toMatchObject({
          error: expect.any(String),
        });
        expect(reads()).toBe(5);
        expect(w.mirror.upstreamReads(other)).toBe(otherStart);
      },
      timeoutMs,
    );
  });
}
