import { GitError } from '../../core/git/error.ts';
import { lsRemote } from '../../core/git/ls-remote.ts';
import { MirrorError } from './mirror-error.ts';

/** The only refs the pass reads: branch tips and the immutable snapshot refs. */
export const LS_REMOTE_PATTERNS = ['refs/heads/*', 'refs/mirror-stage/*', 'refs/unidesk/snapshots/*'] as const;

export interface ReadMirrorOptions {
  /** git is killed (SIGKILL) when it has not answered within this. */
  readonly timeoutMs: number;
  /** PATH of the git child, the only value it takes from outside. */
  readonly pathEnv: string;
  /** The mirror id(s) served at the URL, for error messages; defaults to the URL. */
  readonly mirror?: string;
}

// Reads every branch tip and snapshot ref of one mirror URL in one `git ls-remote` through the git
// boundary (hermetic, no shell, its own empty directory): the caller's directory, checkouts and git
// variables cannot change the answer. Any git failure means the mirror could not be read: MirrorError.
export async function readMirror(url: string, opts: ReadMirrorOptions): Promise<Map<string, string>> {
  try {
    return await lsRemote(url, LS_REMOTE_PATTERNS, { timeoutMs: opts.timeoutMs, pathEnv: opts.pathEnv });
  } catch (error) {
    if (!(error instanceof GitError)) throw error;
    throw new MirrorError({ mirror: opts.mirror ?? url, url, detail: error.detail, cause: error });
  }
}
