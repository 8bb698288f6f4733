import { GitError } from '../../core/git/error.ts';
import { git as runOrThrow, runGit, type GitOptions, type GitRun } from '../../core/git/exec.ts';
import { lsRemote, parseLsRemote } from '../../core/git/ls-remote.ts';
import { GitMirrorError, GitMirrorReason } from './errors.ts';

/** How every git-mirror stage runs git: the declared transport, a budget, and PATH. */
export interface GitRunOptions {
  /** Extra variables for the upstream transport (e.g. GIT_SSH); merged over the hermetic env. */
  readonly transportEnv: Readonly<Record<string, string>>;
  /** git is killed (SIGKILL) when it has not finished within this. */
  readonly timeoutMs: number;
  /** PATH of the git child; defaults to this process's PATH. */
  readonly pathEnv?: string;
  /** Told before each read of the upstream (git ls-remote): what the watch window paces its looks by. */
  readonly onUpstreamRead?: () => void;
}

type StageGitOptions = GitRunOptions & { readonly gitDir?: string; readonly input?: string };

// Reflog entries are what `status` reads as fetched-at; bare repositories do not keep them by default.
const CONFIG = {
  'core.logAllRefUpdates': 'always',
  'user.name': 'branch-follower',
  'user.email': 'branch-follower@git-mirror.invalid',
};

// The stages run git through the one git boundary (core/git), on the mirror cache addressed with
// --git-dir, with the declared transport and these settings.
function gitOptions(opts: StageGitOptions): GitOptions {
  return {
    timeoutMs: opts.timeoutMs,
    pathEnv: opts.pathEnv ?? process.env.PATH ?? '/usr/bin:/bin',
    transportEnv: opts.transportEnv,
    config: CONFIG,
    ...(opts.gitDir === undefined ? {} : { gitDir: opts.gitDir }),
    ...(opts.input === undefined ? {} : { input: opts.input }),
  };
}

/** Runs git for a stage; a failure is in the result, for callers that read exit codes (merge-base, update-ref). */
export function tryGit(subcommand: string, args: readonly string[], opts: StageGitOptions): Promise<GitRun> {
  return runGit(subcommand, args, gitOptions(opts));
}

/** Which side of the mirror a git run touches, and what it was doing, for the error that names it. */
interface Doing {
  readonly side: 'upstream' | 'cache';
  readonly doing: string;
}

// A GitError as the stage failure it is: on the upstream side retryable (the transport can heal), on
// the cache side not; the message says what was being done and where to look.
async function asStage<T>(run: Promise<T>, { side, doing }: Doing): Promise<T> {
  try {
    return await run;
  } catch (error) {
    if (!(error instanceof GitError)) throw error;
    const upstream = side === 'upstream';
    throw new GitMirrorError(
      `git-mirror ${doing} failed: ${error.detail}. ` +
        (upstream
          ? 'Check the declared upstream transport (controller.source.githubSsh), then run `branch-follower ' +
            'git-mirror sync --confirm --wait`'
          : 'Check the mirror cache repository, then run `branch-follower git-mirror status`'),
      { reason: upstream ? GitMirrorReason.Upstream : GitMirrorReason.Cache, detail: error.detail, cause: error },
    );
  }
}

/** Runs git and returns stdout, or throws GitMirrorError naming what was being done. */
export function git(subcommand: string, args: readonly string[], opts: StageGitOptions & Doing): Promise<string> {
  return asStage(runOrThrow(subcommand, args, gitOptions(opts)), opts);
}

/** The mirror cache's refs under `prefixes`, ref → sha, read with for-each-ref (writes nothing). */
export async function mirrorRefs(
  mirrorDir: string,
  prefixes: readonly string[],
  opts: GitRunOptions,
): Promise<Map<string, string>> {
  const out = await git('for-each-ref', ['--format=%(objectname)\t%(refname)', ...prefixes], {
    ...opts,
    gitDir: mirrorDir,
    side: 'cache',
    doing: `reading refs of ${mirrorDir}`,
  });
  return parseLsRemote(out);
}

// A commit the mirror does not have cannot be an ancestor of one it has (it would have come with it),
// so a missing object (exit 128 after cat-file says so) is answered "no" rather than an error.
/** Whether the mirror cache holds `ancestor` as `descendant` itself or one of its ancestors (reads only). */
export async function cacheHasAncestor(
  mirrorDir: string,
  ancestor: string,
  descendant: string,
  opts: GitRunOptions,
): Promise<boolean> {
  const has = await tryGit('cat-file', ['-e', `${ancestor}^{commit}`], { ...opts, gitDir: mirrorDir });
  if (!has.ok) return false;
  const r = await tryGit('merge-base', ['--is-ancestor', ancestor, descendant], { ...opts, gitDir: mirrorDir });
  if (r.ok) return true;
  if (r.error.exitCode === 1) return false;
  const detail = r.error.detail;
  throw new GitMirrorError(`git-mirror merge-base of ${ancestor} and ${descendant} failed: ${detail}`, {
    reason: GitMirrorReason.Cache,
    detail,
    cause: r.error,
  });
}

/** Refuses an upstream URL git would read as an option. */
export function checkUrl(url: string): void {
  if (url === '' || url.startsWith('-')) {
    throw new GitMirrorError(`upstream URL ${JSON.stringify(url)} is not a URL git can be given`, {
      reason: GitMirrorReason.InvalidName,
    });
  }
}

/** The upstream's refs matching `patterns`, ref → sha, read with ls-remote (no repository involved). */
export function upstreamRefs(
  url: string,
  patterns: readonly string[],
  opts: GitRunOptions,
): Promise<Map<string, string>> {
  checkUrl(url);
  opts.onUpstreamRead?.();
  return asStage(lsRemote(url, patterns, gitOptions(opts)), { side: 'upstream', doing: `ls-remote of ${url}` });
}
