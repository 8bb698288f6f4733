import { GitMirrorError, GitMirrorReason } from './errors.ts';
import { flushPlan, gitopsBranch, mirrorStageRef } from './stage-plan.ts';

// The decisions of a flush of many GitOps refs of one mirror, apart from the git that reads and
// writes them (runner/git-mirror/flush.ts): which refs to push, what the porcelain of the one push
// says about each, what each ref's recheck makes of it, and the one transaction that records every
// confirmed ref. Each ref ends as its own FlushResult or its own GitMirrorError: one ref refused
// never fails another.

const PARTIAL_PUSH_SUCCEEDED_FETCH_FAILED = 'push-succeeded-fetch-failed';
const SYNC_COMMAND = 'branch-follower git-mirror sync --confirm --wait';

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

/** What became of one GitOps ref of a batch. */
export type RefFlush = FlushResult | GitMirrorError;

/** A GitOps ref the mirror cache holds, with what the upstream held when it was read. */
export interface RefPlan {
  readonly ref: string;
  /** Its mirror-stage cache is refs/mirror-stage/<branch>. */
  readonly branch: string;
  readonly localSha: string;
  /** null: absent upstream. */
  readonly upstreamBefore: string | null;
}

/**
 * The refs of a batch, each once, split into those whose names can go into a refspec and those refused
 * (a ref that is not refs/heads/<safe branch>).
 */
export function flushTargets(refs: readonly string[]): {
  readonly targets: readonly { ref: string; branch: string }[];
  readonly refused: ReadonlyMap<string, GitMirrorError>;
} {
  const targets: { ref: string; branch: string }[] = [];
  const refused = new Map<string, GitMirrorError>();
  for (const ref of new Set(refs)) {
    try {
      targets.push({ ref, branch: gitopsBranch(ref) });
    } catch (error) {
      if (!(error instanceof GitMirrorError)) throw error;
      refused.set(ref, error);
    }
  }
  return { targets, refused };
}

/** Each target as the two listings find it: a plan, or the error for a ref the cache does not hold. */
export function refPlans(
  targets: readonly { ref: string; branch: string }[],
  listings: { readonly mirrorRefs: ReadonlyMap<string, string>; readonly upstreamRefs: ReadonlyMap<string, string> },
  mirrorDir: string,
): (RefPlan | GitMirrorError)[] {
  return targets.map(({ ref, branch }) => {
    const localSha = listings.mirrorRefs.get(ref);
    if (localSha === undefined) {
      return new GitMirrorError(`the mirror cache ${mirrorDir} has no ${ref}; there is nothing to flush`, {
        reason: GitMirrorReason.Cache,
        ref,
      });
    }
    return { ref, branch, localSha, upstreamBefore: listings.upstreamRefs.get(ref) ?? null };
  });
}

/** Whether a ref has anything to push: its upstream is absent or holds another commit. */
export function needsPush(p: RefPlan): boolean {
  return p.upstreamBefore !== p.localSha;
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

const base = (p: RefPlan, dryRun: boolean, action: FlushResult['action']) => ({
  dryRun,
  ref: p.ref,
  action,
  localSha: p.localSha,
  upstreamBefore: p.upstreamBefore,
  partialSuccess: null,
  partialSuccessRecovered: null,
  postPushRecovery: null,
});

// A ref that is not pushed: already equal upstream, or any ref of a dry run (whose ancestry the caller
// read for `ancestor`: whether the upstream commit is an ancestor of the local one). A dry run of a
// non-fast-forward is the same refusal the real flush gives.
export function unpushedResult(p: RefPlan, dryRun: boolean, ancestor: boolean): RefFlush {
  const action = flushPlan(p.localSha, p.upstreamBefore, ancestor);
  if (action === 'non-fast-forward') return nonFastForward(p.ref, p.upstreamBefore ?? '', p.localSha);
  const inSync = p.upstreamBefore === p.localSha;
  const message = inSync
    ? `${p.ref} is up to date upstream at ${p.localSha}`
    : `would fast-forward ${p.ref} upstream ${p.upstreamBefore ?? '(absent)'} -> ${p.localSha}`;
  return {
    ...base(p, dryRun, action),
    ok: inSync,
    pushed: false,
    upstreamSha: p.upstreamBefore,
    githubInSync: inSync,
    pendingFlush: !inSync,
    message,
  };
}

/** One `<flag>\t<from>:<to>\t<summary>` line of `git push --porcelain`, by destination ref. */
export function parsePushPorcelain(stdout: string): Map<string, { readonly flag: string; readonly line: string }> {
  const lines = new Map<string, { flag: string; line: string }>();
  for (const line of stdout.split('\n')) {
    const [flag, spec] = line.split('\t');
    if (spec === undefined || flag === undefined || flag.length !== 1) continue;
    const to = spec.slice(spec.indexOf(':') + 1);
    if (to !== '') lines.set(to, { flag, line });
  }
  return lines;
}

/** How the one push of a batch ended as a whole: null, or why git failed (a ref refused is one reason). */
export interface PushFailure {
  readonly detail: string;
  readonly cause: unknown;
}

// What the push did to one ref, from its porcelain line. Every flag but `!` means the upstream took it
// (`=`: it already held the commit, moved there since it was read). git checks a fast-forward per ref
// before it sends anything: `fetch first` (the upstream commit is not in the cache, so it cannot be an
// ancestor) and `non-fast-forward` are the refusal a flush never forces, `stale info` the upstream
// moving under the push; any other `!`, or no line at all (the push never got that far), is a failure
// of the upstream side.
export function pushVerdict(
  p: RefPlan,
  lines: ReadonlyMap<string, { readonly flag: string; readonly line: string }>,
  failure: PushFailure | null,
  upstreamUrl: string,
): 'pushed' | GitMirrorError {
  const got = lines.get(p.ref);
  if (got !== undefined && got.flag !== '!') return 'pushed';
  if (got !== undefined && /non-fast-forward|fetch first|stale info/.test(got.line)) {
    return nonFastForward(p.ref, p.upstreamBefore ?? '(moved since it was read)', p.localSha);
  }
  const detail = failure?.detail ?? 'git push printed no status for this ref';
  return new GitMirrorError(
    `git-mirror push of ${p.ref} to ${upstreamUrl} failed: ${got?.line ?? detail}. Check the declared ` +
      `upstream transport, then run \`branch-follower git-mirror flush --confirm --wait\``,
    { reason: GitMirrorReason.Upstream, detail, ref: p.ref, cause: failure?.cause },
  );
}

/**
 * The post-push recheck of every pushed ref, as it went: the first ls-remote answered, or it failed and
 * the one controlled recheck after the delay answered (at `at`) or failed too.
 */
export type Recheck =
  | { readonly read: ReadonlyMap<string, string> }
  | {
      readonly failed: string;
      readonly recovery:
        | { readonly read: ReadonlyMap<string, string>; readonly at: string }
        | { readonly failed: string };
    };

/** Turns a read upstream sha into the in-sync fields of a pushed ref. */
function settle(p: RefPlan, upstreamSha: string | null) {
  const githubInSync = upstreamSha === p.localSha;
  const message = githubInSync
    ? `fast-forwarded ${p.ref} upstream to ${p.localSha}`
    : `pushed ${p.ref} ${p.localSha}, but upstream now holds ${upstreamSha ?? '(nothing)'}. Run ` +
      `\`${SYNC_COMMAND}\`, then flush again`;
  return { ok: githubInSync, upstreamSha, githubInSync, pendingFlush: !githubInSync, message };
}

// A pushed ref after the recheck. A recheck that fails after a good push is a partial success: with
// the controlled recheck answering it settles like any other, with both failing the upstream is not
// confirmed and the ref stays pending.
export function pushedResult(p: RefPlan, recheck: Recheck): FlushResult {
  const b = base(p, false, 'fast-forward');
  if ('read' in recheck) return { ...b, pushed: true, ...settle(p, recheck.read.get(p.ref) ?? null) };
  const partial = { ...b, pushed: true, partialSuccess: PARTIAL_PUSH_SUCCEEDED_FETCH_FAILED } as const;
  const r = recheck.recovery;
  if ('failed' in r) {
    return {
      ...partial,
      ok: false,
      partialSuccessRecovered: false,
      upstreamSha: null,
      githubInSync: false,
      pendingFlush: true,
      message:
        `pushed ${p.ref} ${p.localSha} upstream, but the post-push recheck failed twice (${recheck.failed}; then ` +
        `${r.failed}), ` +
        `so the upstream is not confirmed. Run \`${SYNC_COMMAND}\`, then \`branch-follower git-mirror status\``,
    };
  }
  const outcome = settle(p, r.read.get(p.ref) ?? null);
  return { ...partial, ...outcome, partialSuccessRecovered: outcome.ok, postPushRecovery: { at: r.at, attempts: 1 } };
}

/** The refs a flush confirmed upstream (not in a dry run): what refs/mirror-stage/<branch> records. */
export function confirmedRefs(plans: readonly RefPlan[], results: ReadonlyMap<string, RefFlush>): RefPlan[] {
  return plans.filter((p) => {
    const r = results.get(p.ref);
    return r !== undefined && !(r instanceof GitMirrorError) && !r.dryRun && r.githubInSync;
  });
}

// Every confirmed ref's mirror-stage cache in one `git update-ref --stdin` transaction: git applies all
// of it or none. Names were checked (gitopsBranch) and shas come from git, so the lines are unambiguous.
export function recordTransaction(confirmed: readonly RefPlan[]): string {
  const lines = confirmed.map((p) => `update ${mirrorStageRef(p.branch)} ${p.localSha}`);
  return ['start', ...lines, 'commit', ''].join('\n');
}
