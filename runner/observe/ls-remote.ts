import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ExecaError, execa } from 'execa';
import { hermeticGitEnv } from './git-env.ts';
import { MirrorError } from './mirror-error.ts';

/** The only refs the pass reads: branch tips and the immutable snapshot refs. */
export const LS_REMOTE_PATTERNS = ['refs/heads/*', 'refs/mirror-stage/*', 'refs/unidesk/snapshots/*'] as const;

const LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\t(\S+)$/;

// `git ls-remote` output is the whole observation; parsing it apart from running git keeps it testable.
// Peeled `^{}` lines (the commit behind an annotated tag) are not refs and are dropped, as are blanks.
export function parseLsRemote(stdout: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = LINE.exec(line.trimEnd());
    if (!match) continue;
    const [, sha, ref] = match as unknown as [string, string, string];
    if (ref.endsWith('^{}')) continue;
    refs.set(ref, sha);
  }
  return refs;
}

export interface LsRemoteOptions {
  /** git is killed (SIGKILL) when it has not answered within this. */
  readonly timeoutMs: number;
  /** PATH of the git child, the only value it takes from outside. */
  readonly pathEnv: string;
  /** The mirror id(s) served at the URL, for error messages; defaults to the URL. */
  readonly mirror?: string;
}

/** git's last non-empty stderr line, or why the error has none. */
function detailOf(error: ExecaError, timeoutMs: number): string {
  if (error.timedOut) return `no answer within ${timeoutMs}ms, git was killed`;
  const stderr = typeof error.stderr === 'string' ? error.stderr : '';
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .at(-1);
  return last ?? error.shortMessage;
}

// Reads every branch tip and snapshot ref of one mirror URL in one `git ls-remote`. git runs without a
// shell, in a fresh empty directory it cannot climb out of (GIT_CEILING_DIRECTORIES), with the
// hermetic environment: the caller's directory, checkouts and git variables cannot change the answer.
export async function lsRemote(url: string, opts: LsRemoteOptions): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-ls-remote-'));
  try {
    const result = await execa('git', ['ls-remote', url, ...LS_REMOTE_PATTERNS], {
      shell: false,
      cwd: dir,
      extendEnv: false,
      // Repository discovery would otherwise walk up from `dir` into any repository that holds the
      // temp directory (a TMPDIR inside a checkout) and apply its config, url.insteadOf included.
      env: { ...hermeticGitEnv(opts.pathEnv, dir), GIT_CEILING_DIRECTORIES: dirname(dir) },
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
      stdin: 'ignore',
    });
    return parseLsRemote(result.stdout);
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    throw new MirrorError({ mirror: opts.mirror ?? url, url, detail: detailOf(error, opts.timeoutMs), cause: error });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
