import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gitEnv } from './env.ts';
import { GitError } from './error.ts';
import { succeeded, type ProcessResult } from '../process/run-direct.ts';
import { runInHelper } from '../process/spawner.ts';
import { stderrSummary } from './stderr.ts';

/** How one git run is made: its budget, its PATH, the transport, the repository and settings. */
export interface GitOptions {
  /** git is killed (SIGKILL) when it has not finished within this. */
  readonly timeoutMs: number;
  /** PATH of the git child, the only value it takes from this process. */
  readonly pathEnv: string;
  /** Variables the transport adds (e.g. GIT_SSH); they may not replace the hermetic ones. */
  readonly transportEnv?: Readonly<Record<string, string>>;
  /** The repository, addressed with --git-dir (never found by discovery); none for ls-remote. */
  readonly gitDir?: string;
  /** `-c name=value` settings of this run. */
  readonly config?: Readonly<Record<string, string>>;
  /** What git reads on stdin (`update-ref --stdin`'s transaction); without it git gets no stdin. */
  readonly input?: string;
}

/** What a git run did: its stdout, and the GitError when it failed (callers that read exit codes). */
export type GitRun =
  | { readonly ok: true; readonly stdout: string }
  | { readonly ok: false; readonly stdout: string; readonly error: GitError };

function argv(subcommand: string, args: readonly string[], opts: GitOptions): string[] {
  const config = Object.entries(opts.config ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const gitDir = opts.gitDir === undefined ? [] : [`--git-dir=${opts.gitDir}`];
  return [...config, ...gitDir, subcommand, ...args];
}

function failure(subcommand: string, result: ProcessResult, timeoutMs: number): GitError {
  const detail = result.timedOut
    ? `no answer within ${timeoutMs}ms, git was killed`
    : (stderrSummary(result.stderr.toString('utf8')) ??
      (result.startError === undefined
        ? result.signal === undefined
          ? `exit code ${result.exitCode}`
          : `killed by ${result.signal}`
        : `git could not be started (${result.startError})`));
  return new GitError({
    subcommand,
    detail,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    signal: result.signal,
  });
}

// The one place the product runs git. No shell; a fresh empty working directory it cannot climb out
// of (GIT_CEILING_DIRECTORIES); only the hermetic environment plus the declared transport; no stdin
// but the caller's `input`; SIGKILL after the budget; run by the spawn helper (core/process), so the
// fork does not copy this process. Resolves with the failure rather than rejecting: the caller decides what
// an exit code means (merge-base's 1 is an answer). Rejects only for a transport that would replace
// a hermetic variable.
export async function runGit(subcommand: string, args: readonly string[], opts: GitOptions): Promise<GitRun> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-git-'));
  try {
    const result = await runInHelper({
      file: 'git',
      args: argv(subcommand, args, opts),
      cwd: dir,
      env: gitEnv(opts.pathEnv, dir, dirname(dir), opts.transportEnv ?? {}),
      timeoutMs: opts.timeoutMs,
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
    // execa's trimming, which every caller's parsing was written against: no trailing newline.
    const stdout = result.stdout.toString('utf8').replace(/\r?\n$/, '');
    return succeeded(result)
      ? { ok: true, stdout }
      : { ok: false, stdout, error: failure(subcommand, result, opts.timeoutMs) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs git and returns its stdout, or throws its GitError. */
export async function git(subcommand: string, args: readonly string[], opts: GitOptions): Promise<string> {
  const run = await runGit(subcommand, args, opts);
  if (!run.ok) throw run.error;
  return run.stdout;
}
