import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { hermeticGitEnv } from '../observe/git-env.ts';
import { parseLsRemote } from '../observe/ls-remote.ts';
import { GitMirrorError, GitMirrorReason } from './errors.ts';

/** How every git-mirror stage runs git: the declared transport, a budget, and PATH. */
export interface GitRunOptions {
  /** Extra variables for the upstream transport (e.g. GIT_SSH); merged over the hermetic env. */
  readonly transportEnv: Readonly<Record<string, string>>;
  /** git is killed (SIGKILL) when it has not finished within this. */
  readonly timeoutMs: number;
  /** PATH of the git child; defaults to this process's PATH. */
  readonly pathEnv?: string;
}

/** What a git child did, for callers that read exit codes (merge-base, update-ref). */
export interface GitResult {
  readonly exitCode: number;
  readonly stdout: string;
  /** git's first fatal:/error: stderr line (else its last), or why there is none. */
  readonly detail: string;
  readonly failed: boolean;
}

// The transport may add variables, never replace the ones that make git hermetic or point it elsewhere.
const PROTECTED = new Set(['PATH', 'HOME', 'GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_GLOBAL', 'GIT_TERMINAL_PROMPT', 'LANG', 'GIT_CEILING_DIRECTORIES', 'GIT_DIR', 'GIT_WORK_TREE', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT']);

// Reflog entries are what `status` reads as fetched-at; bare repositories do not keep them by default.
const CONFIG = ['-c', 'core.logAllRefUpdates=always', '-c', 'user.name=branch-follower', '-c', 'user.email=branch-follower@git-mirror.invalid'];

// git's own reason: its first `fatal:`/`error:` line, with the transport's line just before it (the lines after it are often generic advice such
// as "Please make sure you have the correct access rights"), else its last line; no trailing period.
function reasonOf(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const at = lines.findIndex((l) => /^(fatal|error):/.test(l));
  if (at < 0) return lines.at(-1)?.replace(/\.+$/, '');
  // What the transport said just before git gave up (ssh: "Host key verification failed.") is the cause.
  const cause = at > 0 && !/^(hint|warning):/.test(lines[at - 1]!) ? `${lines[at - 1]!.replace(/\.+$/, '')}: ` : '';
  return `${cause}${lines[at]!.replace(/\.+$/, '')}`;
}

// Runs git like runner/observe/ls-remote.ts: no shell, a fresh empty cwd it cannot climb out of, only
// the hermetic environment plus the declared transport, SIGKILL after the budget. The mirror cache is
// addressed with --git-dir, never found by discovery. Never rejects: the caller decides what a code means.
export async function execGit(args: readonly string[], opts: GitRunOptions & { readonly gitDir?: string }): Promise<GitResult> {
  const bad = Object.keys(opts.transportEnv).filter((k) => PROTECTED.has(k));
  if (bad.length > 0) throw new Error(`transportEnv may not set ${bad.join(', ')}: git's environment stays hermetic`);
  const dir = await mkdtemp(join(tmpdir(), 'bf-git-mirror-'));
  try {
    const gitDir = opts.gitDir === undefined ? [] : [`--git-dir=${opts.gitDir}`];
    const result = await execa('git', [...CONFIG, ...gitDir, ...args], {
      shell: false,
      cwd: dir,
      extendEnv: false,
      env: { ...hermeticGitEnv(opts.pathEnv ?? process.env['PATH'] ?? '/usr/bin:/bin', dir), GIT_CEILING_DIRECTORIES: dirname(dir), ...opts.transportEnv },
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
      stdin: 'ignore',
      reject: false,
    });
    const detail = result.timedOut
      ? `no answer within ${opts.timeoutMs}ms, git was killed`
      : (reasonOf(typeof result.stderr === 'string' ? result.stderr : '') ?? result.shortMessage ?? '');
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout as string, detail, failed: result.failed };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs git and returns stdout, or throws GitMirrorError naming what was being done. */
export async function git(
  args: readonly string[],
  opts: GitRunOptions & { readonly gitDir?: string; readonly side: 'upstream' | 'cache'; readonly doing: string },
): Promise<string> {
  const r = await execGit(args, opts);
  if (!r.failed) return r.stdout;
  const upstream = opts.side === 'upstream';
  throw new GitMirrorError(
    `git-mirror ${opts.doing} failed: ${r.detail}. ` +
      (upstream
        ? 'Check the declared upstream transport (controller.source.githubSsh), then run `branch-follower git-mirror sync --confirm --wait`'
        : 'Check the mirror cache repository, then run `branch-follower git-mirror status`'),
    { reason: upstream ? GitMirrorReason.Upstream : GitMirrorReason.Cache, detail: r.detail },
  );
}

/** The mirror cache's refs under `prefixes`, ref → sha, read with for-each-ref (writes nothing). */
export async function mirrorRefs(mirrorDir: string, prefixes: readonly string[], opts: GitRunOptions): Promise<Map<string, string>> {
  const out = await git(['for-each-ref', '--format=%(objectname)\t%(refname)', ...prefixes], { ...opts, gitDir: mirrorDir, side: 'cache', doing: `reading refs of ${mirrorDir}` });
  return parseLsRemote(out);
}

/** Refuses an upstream URL git would read as an option. */
export function checkUrl(url: string): void {
  if (url === '' || url.startsWith('-')) {
    throw new GitMirrorError(`upstream URL ${JSON.stringify(url)} is not a URL git can be given`, { reason: GitMirrorReason.InvalidName });
  }
}

/** The upstream's refs matching `patterns`, ref → sha, read with ls-remote (no repository involved). */
export async function upstreamRefs(url: string, patterns: readonly string[], opts: GitRunOptions): Promise<Map<string, string>> {
  checkUrl(url);
  const out = await git(['ls-remote', url, ...patterns], { ...opts, side: 'upstream', doing: `ls-remote of ${url}` });
  return parseLsRemote(out);
}

/** The all-zero object name of the same length as `sha`: update-ref's "must not exist yet". */
export function zeroSha(sha: string): string {
  return '0'.repeat(sha.length);
}
