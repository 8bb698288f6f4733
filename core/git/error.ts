import { BranchFollowerError } from '../errors.ts';

// A git run that failed: git exited non-zero, was killed at its timeout, or could not be started.
// The one error the git boundary throws; a domain error (the mirror unreadable, a git-mirror stage
// failed) wraps it as `cause` to say what it means. Retryable only when git was killed at its timeout:
// whether any other failure can heal is for the domain to say.
export class GitError extends BranchFollowerError {
  /** The git subcommand that failed (ls-remote, fetch, push, …). */
  readonly subcommand: string;
  /** git's reason (see stderrSummary), or a phrase saying why there is none. */
  readonly detail: string;
  /** git's exit code; undefined when it was killed or never started. */
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  /** The signal that ended git (SIGKILL at the timeout), if one did. */
  readonly signal: string | undefined;

  constructor(opts: {
    subcommand: string;
    detail: string;
    exitCode: number | undefined;
    timedOut: boolean;
    signal: string | undefined;
    cause?: unknown;
  }) {
    super(`git ${opts.subcommand} failed: ${opts.detail}`, {
      reason: opts.timedOut ? 'GitTimedOut' : 'GitFailed',
      retryable: opts.timedOut,
      cause: opts.cause,
    });
    this.subcommand = opts.subcommand;
    this.detail = opts.detail;
    this.exitCode = opts.exitCode;
    this.timedOut = opts.timedOut;
    this.signal = opts.signal;
  }
}
