import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { gitEnv } from './env.ts';
import { GitError } from './error.ts';
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

/** What execa says of a finished git child that failure() reads. */
interface Finished {
  readonly timedOut: boolean;
  readonly stderr: unknown;
  readonly shortMessage?: string | undefined;
  readonly exitCode?: number | undefined;
  readonly signal?: string | undefined;
}

function failure(subcommand: string, result: Finished, timeoutMs: number): GitError {
  const detail = result.timedOut
    ? `no answer within ${timeoutMs}ms, git was killed`
    : (stderrSummary(typeof result.stderr === 'string' ? result.stderr : '') ??
      result.shortMessage ??
      `exit code ${result.exitCode}`);
  return new GitError({
    subcommand,
    detail,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    signal: result.signal,
    cause: result,
  });
}

// The one place the product runs git. No shell; a fresh empty working directory it cannot climb out
// of (GIT_CEILING_DIRECTORIES); only the hermetic environment plus the declared transport; no stdin
// but the caller's `input`; SIGKILL after the budget. Resolves with the failure rather than rejecting: the caller decides what
// an exit code means (merge-base's 1 is an answer). Rejects only for a transport that would replace
// a hermetic variable.
export async function runGit(subcommand: string, args: readonly string[], opts: GitOptions): Promise<GitRun> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-git-'));
  try {
    const result = await execa('git', argv(subcommand, args, opts), {
      shell: false,
      cwd: dir,
      extendEnv: false,
      env: gitEnv(opts.pathEnv, dir, dirname(dir), opts.transportEnv ?? {}),
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
      ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
      reject: false,
    });
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    return result.failed
      ? { ok: false, stdout, error: failure(subcommand, result, opts.timeoutMs) }
      : { ok: true, stdout };
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
