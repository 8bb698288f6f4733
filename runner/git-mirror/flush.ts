import { setTimeout as sleep } from 'node:timers/promises';
import { GitMirrorError, GitMirrorReason } from './errors.ts';
import { checkUrl, git, mirrorRefs, tryGit, upstreamRefs, type GitRunOptions } from './git.ts';
import { flushPlan, gitopsBranch, mirrorStageRef } from './stage-plan.ts';

const PARTIAL_PUSH_SUCCEEDED_FETCH_FAILED = 'push-succeeded-fetch-failed';
const SYNC_COMMAND = 'branch-follower git-mirror sync --confirm --wait';

/** The post-push recheck: one read of the upstream ref, and one controlled retry after `delayMs`. */
interface FlushRecheck {
  /** Wait before the one recovery recheck after a failed post-push recheck. */
  readonly delayMs: number;
  /**
   * Reads the upstream sha of the GitOps ref (null: absent). Attempt 1 is the post-push recheck, 2 the
   * recovery. Defaults to `readUpstream` (git ls-remote with the transport env); a caller may wrap it.
   */
  readonly read?: (attempt: 1 | 2, readUpstream: () => Promise<string | null>) => Promise<string | null>;
}

export interface FlushOptions extends GitRunOptions {
  /** The bare mirror cache repository that holds the GitOps ref. */
  readonly mirrorDir: string;
  readonly upstreamUrl: string;
  /** The full GitOps ref, `refs/heads/<branch>`, pushed to the same name upstream. */
  readonly gitopsRef: string;
  /** Decide and report; push nothing, write nothing. */
  readonly dryRun: boolean;
  readonly recheck: FlushRecheck;
}

export interface FlushResult {
  /** githubInSync and not pendingFlush, confirmed by a recheck (or, in a dry run, by the first read). */
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly ref: string;
  readonly action: 'fast-forward' | 'up-to-date';
  /** The mirror's GitOps commit. */
  readonly localSha: string;
  /** The upstream ref before the push (null: absent). */
  readonly upstreamBefore: string | null;
  readonly pushed: boolean;
  /** The upstream ref as last read (null: absent or unknown because every recheck failed). */
  readonly upstreamSha: string | null;
  /** The upstream ref was read and equals the pushed (local) commit. */
  readonly githubInSync: boolean;
  /** The local commit is not known to be upstream. */
  readonly pendingFlush: boolean;
  readonly partialSuccess: typeof PARTIAL_PUSH_SUCCEEDED_FETCH_FAILED | null;
  /** After a partial success: whether the controlled recheck recovered; null when there was none. */
  readonly partialSuccessRecovered: boolean | null;
  readonly postPushRecovery: { readonly at: string; readonly attempts: 1 } | null;
  readonly message: string;
}

// The flush stage: fast-forward the upstream GitOps ref to the mirror's, never forced, then recheck the
// upstream and record what it holds in the mirror-stage cache (which `status` reads). A recheck that
// fails after a good push is a partial success that gets one controlled recheck before it is reported.
// Reads: the mirror's GitOps ref, the upstream's. Writes: the upstream ref (push), refs/mirror-stage/<g>.
export async function flush(opts: FlushOptions): Promise<FlushResult> {
  const branch = gitopsBranch(opts.gitopsRef);
  checkUrl(opts.upstreamUrl);
  const ref = opts.gitopsRef;
  const localSha = (await mirrorRefs(opts.mirrorDir, [ref], opts)).get(ref);
  if (localSha === undefined) {
    throw new GitMirrorError(`the mirror cache ${opts.mirrorDir} has no ${ref}; there is nothing to flush`, {
      reason: GitMirrorReason.Cache,
      ref,
    });
  }
  const readUpstream = async () => (await upstreamRefs(opts.upstreamUrl, [ref], opts)).get(ref) ?? null;
  const upstreamBefore = await readUpstream();
  const ancestor =
    upstreamBefore !== null && upstreamBefore !== localSha && (await isAncestor(opts, upstreamBefore, localSha));
  const action = flushPlan(localSha, upstreamBefore, ancestor);
  if (action === 'non-fast-forward') throw nonFastForward(ref, upstreamBefore ?? '', localSha);
  const base = {
    dryRun: opts.dryRun,
    ref,
    action,
    localSha,
    upstreamBefore,
    partialSuccess: null,
    partialSuccessRecovered: null,
    postPushRecovery: null,
  };
  if (opts.dryRun || action === 'up-to-date') {
    if (!opts.dryRun) await recordCache(opts, branch, localSha);
    const inSync = upstreamBefore === localSha;
    const message = inSync
      ? `${ref} is up to date upstream at ${localSha}`
      : `would fast-forward ${ref} upstream ${upstreamBefore ?? '(absent)'} -> ${localSha}`;
    return {
      ...base,
      ok: inSync,
      pushed: false,
      upstreamSha: upstreamBefore,
      githubInSync: inSync,
      pendingFlush: !inSync,
      message,
    };
  }

  await push(opts, ref, localSha, upstreamBefore);
  let attempt: 1 | 2 = 1;
  const read = () => (opts.recheck.read ? opts.recheck.read(attempt, readUpstream) : readUpstream());
  let first: string | null;
  try {
    first = await read();
  } catch (error) {
    if (!(error instanceof GitMirrorError) || error.reason !== GitMirrorReason.Upstream) throw error;
    const partial = { ...base, pushed: true, partialSuccess: PARTIAL_PUSH_SUCCEEDED_FETCH_FAILED } as const;
    await sleep(opts.recheck.delayMs);
    attempt = 2;
    let second: string | null;
    try {
      second = await read();
    } catch (again) {
      if (!(again instanceof GitMirrorError) || again.reason !== GitMirrorReason.Upstream) throw again;
      return {
        ...partial,
        ok: false,
        partialSuccessRecovered: false,
        upstreamSha: null,
        githubInSync: false,
        pendingFlush: true,
        message:
          `pushed ${ref} ${localSha} upstream, but the post-push recheck failed twice (${error.detail}; then ` +
          `${again.detail}), ` +
          `so the upstream is not confirmed. Run \`${SYNC_COMMAND}\`, then \`branch-follower git-mirror status\``,
      };
    }
    const outcome = await settle(opts, branch, localSha, second);
    return {
      ...partial,
      ...outcome,
      partialSuccessRecovered: outcome.ok,
      postPushRecovery: { at: new Date().toISOString(), attempts: 1 },
    };
  }
  return { ...base, pushed: true, ...(await settle(opts, branch, localSha, first)) };
}

/** Turns one successful recheck into the in-sync fields, recording a confirmed sha in the cache. */
async function settle(opts: FlushOptions, branch: string, localSha: string, upstreamSha: string | null) {
  const githubInSync = upstreamSha === localSha;
  if (githubInSync) await recordCache(opts, branch, localSha);
  const message = githubInSync
    ? `fast-forwarded ${opts.gitopsRef} upstream to ${localSha}`
    : `pushed ${opts.gitopsRef} ${localSha}, but upstream now holds ${upstreamSha ?? '(nothing)'}. Run ` +
      `\`${SYNC_COMMAND}\`, then flush again`;
  return { ok: githubInSync, upstreamSha, githubInSync, pendingFlush: !githubInSync, message };
}

function nonFastForward(ref: string, upstream: string, local: string): GitMirrorError {
  return new GitMirrorError(
    `upstream ${ref} is at ${upstream}, which is not an ancestor of the mirror's ${local}: a non-fast-forward flush ` +
      `is refused ` +
      `and never forced; nothing was pushed. Run \`${SYNC_COMMAND}\`, rebuild the GitOps commit on the upstream tip, ` +
      `then flush again`,
    { reason: GitMirrorReason.NonFastForward, ref, existingSha: upstream, newSha: local },
  );
}

// A commit the mirror does not have cannot be an ancestor of one it has (it would have come with it),
// so a missing object (exit 128 after cat-file says so) is answered "no" rather than an error.
async function isAncestor(opts: FlushOptions, ancestor: string, descendant: string): Promise<boolean> {
  const has = await tryGit('cat-file', ['-e', `${ancestor}^{commit}`], { ...opts, gitDir: opts.mirrorDir });
  if (!has.ok) return false;
  const r = await tryGit('merge-base', ['--is-ancestor', ancestor, descendant], { ...opts, gitDir: opts.mirrorDir });
  if (r.ok) return true;
  if (r.error.exitCode === 1) return false;
  const detail = r.error.detail;
  throw new GitMirrorError(`git-mirror merge-base of ${ancestor} and ${descendant} failed: ${detail}`, {
    reason: GitMirrorReason.Cache,
    detail,
    cause: r.error,
  });
}

// `git push` without `+` or --force: the server refuses anything but a fast-forward, which also covers
// an upstream that moved after it was read. --porcelain makes that refusal recognisable.
async function push(opts: FlushOptions, ref: string, localSha: string, upstreamBefore: string | null): Promise<void> {
  const r = await tryGit('push', ['--porcelain', opts.upstreamUrl, `${ref}:${ref}`], {
    ...opts,
    gitDir: opts.mirrorDir,
  });
  if (r.ok) return;
  const rejected = r.stdout.split('\n').find((l) => l.startsWith('!'));
  if (rejected !== undefined && /non-fast-forward|fetch first|stale info/.test(rejected)) {
    throw nonFastForward(ref, upstreamBefore ?? '(moved since it was read)', localSha);
  }
  throw new GitMirrorError(
    `git-mirror push of ${ref} to ${opts.upstreamUrl} failed: ${rejected ?? r.error.detail}. Check the declared ` +
      `upstream transport, then run \`branch-follower git-mirror flush --confirm --wait\``,
    { reason: GitMirrorReason.Upstream, detail: r.error.detail, ref, cause: r.error },
  );
}

/** Records what the upstream was confirmed to hold in refs/mirror-stage/<branch>. */
async function recordCache(opts: FlushOptions, branch: string, sha: string): Promise<void> {
  await git('update-ref', ['-m', 'branch-follower git-mirror flush: confirmed upstream', mirrorStageRef(branch), sha], {
    ...opts,
    gitDir: opts.mirrorDir,
    side: 'cache',
    doing: `recording ${mirrorStageRef(branch)}`,
  });
}
