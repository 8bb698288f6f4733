import { setTimeout as sleep } from 'node:timers/promises';
import { GitMirrorError, GitMirrorReason } from './errors.ts';
import { cacheHasAncestor, checkUrl, git, mirrorRefs, tryGit, upstreamRefs, type GitRunOptions } from './git.ts';
import {
  confirmedRefs,
  flushTargets,
  needsPush,
  parsePushPorcelain,
  pushedResult,
  pushVerdict,
  recordTransaction,
  refPlans,
  unpushedResult,
  type FlushResult,
  type Recheck,
  type RefFlush,
  type RefPlan,
} from './flush-plan.ts';
import { mirrorStageRef } from './stage-plan.ts';

export type { FlushResult, RefFlush } from './flush-plan.ts';

type Listing = ReadonlyMap<string, string>;

/** The post-push recheck: one read of the pushed upstream refs, and one controlled retry after `delayMs`. */
interface FlushManyRecheck {
  /** Wait before the one recovery recheck after a failed post-push recheck. */
  readonly delayMs: number;
  /**
   * Reads the pushed refs upstream (ref → sha; a ref absent is not in it). Attempt 1 is the post-push recheck, 2 the
   * recovery. Defaults to `readUpstream` (one git ls-remote with the transport env); a caller may wrap it.
   */
  readonly read?: (attempt: 1 | 2, readUpstream: () => Promise<Listing>) => Promise<Listing>;
}

export interface FlushManyOptions extends GitRunOptions {
  /** The bare mirror cache repository that holds the GitOps refs. */
  readonly mirrorDir: string;
  readonly upstreamUrl: string;
  /** Full GitOps refs, `refs/heads/<branch>`, each pushed to the same name upstream; one named twice is flushed once. */
  readonly gitopsRefs: readonly string[];
  /** Decide and report; push nothing, write nothing. */
  readonly dryRun: boolean;
  readonly recheck: FlushManyRecheck;
}

// The flush stage over many GitOps refs of one mirror: fast-forward each upstream ref to the mirror's,
// never forced, recheck the upstream and record what it holds in the mirror-stage cache (which
// `status` reads). Whatever the number of refs it runs a fixed number of git processes: one
// for-each-ref of the cache, one ls-remote of the upstream, one push of every ref that differs, one
// ls-remote recheck of the pushed ones (and one controlled retry of it after a failure), and one
// update-ref transaction. Each ref ends with its own result or its own error (refused non-fast-forward,
// not in the cache, a bad name); a failure of the mirror as a whole (its cache or upstream unreadable)
// is thrown. Reads: the mirror's GitOps refs, the upstream's. Writes: the upstream refs (push),
// refs/mirror-stage/<branch> of each confirmed ref.
export async function flushMany(opts: FlushManyOptions): Promise<Map<string, RefFlush>> {
  const { targets, refused } = flushTargets(opts.gitopsRefs);
  const out = new Map<string, RefFlush>(refused);
  if (targets.length === 0) return out;
  checkUrl(opts.upstreamUrl);
  const wanted = targets.map((t) => t.ref);
  const mirror = await mirrorRefs(opts.mirrorDir, wanted, opts);
  const held = wanted.filter((ref) => mirror.has(ref));
  const upstream: Listing = held.length === 0 ? new Map() : await upstreamRefs(opts.upstreamUrl, held, opts);
  const plans: RefPlan[] = [];
  for (const p of refPlans(targets, { mirrorRefs: mirror, upstreamRefs: upstream }, opts.mirrorDir)) {
    if (p instanceof GitMirrorError) out.set(p.ref!, p);
    else plans.push(p);
  }
  if (opts.dryRun) {
    for (const p of plans) out.set(p.ref, await dryRunResult(opts, p));
    return out;
  }
  for (const p of plans) if (!needsPush(p)) out.set(p.ref, unpushedResult(p, false, false));
  const pushed: RefPlan[] = [];
  for (const [p, verdict] of await push(opts, plans.filter(needsPush))) {
    if (verdict === 'pushed') pushed.push(p);
    else out.set(p.ref, verdict);
  }
  if (pushed.length > 0) {
    const recheck = await recheckPushed(opts, pushed);
    for (const p of pushed) out.set(p.ref, pushedResult(p, recheck));
  }
  await record(opts, confirmedRefs(plans, out), out);
  return out;
}

// A dry run pushes nothing, so it cannot learn from git push whether a ref would fast-forward: it asks
// the cache, one ref at a time. That is the operator's preview of a flush (`git-mirror flush
// --dry-run`), never the pass's path, and it must not ask the upstream to receive a push (a
// read-only transport previews as well as a writing one).
async function dryRunResult(opts: FlushManyOptions, p: RefPlan): Promise<RefFlush> {
  try {
    const ancestor =
      p.upstreamBefore !== null &&
      needsPush(p) &&
      (await cacheHasAncestor(opts.mirrorDir, p.upstreamBefore, p.localSha, opts));
    return unpushedResult(p, true, ancestor);
  } catch (error) {
    if (error instanceof GitMirrorError) return error;
    throw error;
  }
}

/** flushMany's options for one GitOps ref: the recheck reads that ref's upstream sha (null: absent). */
export interface FlushOptions extends Omit<FlushManyOptions, 'gitopsRefs' | 'recheck'> {
  /** The full GitOps ref, `refs/heads/<branch>`, pushed to the same name upstream. */
  readonly gitopsRef: string;
  readonly recheck: {
    readonly delayMs: number;
    readonly read?: (attempt: 1 | 2, readUpstream: () => Promise<string | null>) => Promise<string | null>;
  };
}

// The flush of one GitOps ref (the `git-mirror flush` verb, one ref per follower): the one-ref case of
// flushMany, whose refusal of that ref (a non-fast-forward, a ref the cache does not hold) is thrown.
export async function flush(opts: FlushOptions): Promise<FlushResult> {
  const { gitopsRef: ref, recheck, ...rest } = opts;
  const one = recheck.read;
  const read = one
    ? async (attempt: 1 | 2, readUpstream: () => Promise<Listing>): Promise<Listing> => {
        const sha = await one(attempt, async () => (await readUpstream()).get(ref) ?? null);
        return new Map(sha === null ? [] : [[ref, sha]]);
      }
    : undefined;
  const results = await flushMany({
    ...rest,
    gitopsRefs: [ref],
    recheck: { delayMs: recheck.delayMs, ...(read ? { read } : {}) },
  });
  const r = results.get(ref)!;
  if (r instanceof GitMirrorError) throw r;
  return r;
}

// One `git push --porcelain <upstream> r1:r1 r2:r2 …` without `+` or --force: git refuses anything but
// a fast-forward, per ref, and pushes the others (not --atomic: one ref refused must not hold back the
// rest). Its own check is the ancestor check of every ref at once — the upstream commit must be in the
// cache (else `fetch first`) and an ancestor of the mirror's (else `non-fast-forward`) — against the
// upstream as the push finds it, so an upstream that moved since it was read is refused too.
async function push(opts: FlushManyOptions, plans: readonly RefPlan[]) {
  if (plans.length === 0) return [];
  const specs = plans.map((p) => `${p.ref}:${p.ref}`);
  const r = await tryGit('push', ['--porcelain', opts.upstreamUrl, ...specs], { ...opts, gitDir: opts.mirrorDir });
  const lines = parsePushPorcelain(r.stdout);
  const failure = r.ok ? null : { detail: r.error.detail, cause: r.error };
  return plans.map((p) => [p, pushVerdict(p, lines, failure, opts.upstreamUrl)] as const);
}

const upstreamFailure = (error: unknown): error is GitMirrorError =>
  error instanceof GitMirrorError && error.reason === GitMirrorReason.Upstream;

// The post-push recheck of every pushed ref in one ls-remote. One that fails after a good push gets
// one controlled recheck after the declared delay before the partial success is reported.
async function recheckPushed(opts: FlushManyOptions, pushed: readonly RefPlan[]): Promise<Recheck> {
  const refs = pushed.map((p) => p.ref);
  const readUpstream = () => upstreamRefs(opts.upstreamUrl, refs, opts);
  const read = (attempt: 1 | 2) => (opts.recheck.read ? opts.recheck.read(attempt, readUpstream) : readUpstream());
  let failed: string;
  try {
    return { read: await read(1) };
  } catch (error) {
    if (!upstreamFailure(error)) throw error;
    failed = error.detail;
  }
  await sleep(opts.recheck.delayMs);
  try {
    const again = await read(2);
    return { failed, recovery: { read: again, at: new Date().toISOString() } };
  } catch (error) {
    if (!upstreamFailure(error)) throw error;
    return { failed, recovery: { failed: error.detail } };
  }
}

// Records what the upstream was confirmed to hold in refs/mirror-stage/<branch>, every confirmed ref in
// one transaction. If the cache refuses it, each of those refs fails with that error (the push stands).
async function record(opts: FlushManyOptions, confirmed: readonly RefPlan[], out: Map<string, RefFlush>) {
  if (confirmed.length === 0) return;
  try {
    await git('update-ref', ['-m', 'branch-follower git-mirror flush: confirmed upstream', '--stdin'], {
      ...opts,
      gitDir: opts.mirrorDir,
      input: recordTransaction(confirmed),
      side: 'cache',
      doing: `recording ${confirmed.length === 1 ? mirrorStageRef(confirmed[0]!.branch) : `${confirmed.length} mirror-stage refs`}`,
    });
  } catch (error) {
    if (!(error instanceof GitMirrorError)) throw error;
    for (const p of confirmed) out.set(p.ref, error);
  }
}
