import { BranchFollowerError, type ErrorReason } from '../../core/errors.ts';

/** The reasons a git-mirror stage (sync, flush, status) fails with, each with whether a retry can help. */
export const GitMirrorReason = {
  /** The upstream (GitHub over the declared transport) could not be reached or answered with an error. */
  Upstream: 'GitMirrorUpstream',
  /** git failed on the mirror cache repository itself (missing, corrupt, not writable). */
  Cache: 'GitMirrorCache',
  /** A declared branch does not exist upstream; nothing was fetched. */
  BranchMissing: 'GitMirrorBranchMissing',
  /** A snapshot ref exists with another commit; snapshot refs never move. */
  SnapshotMoved: 'GitMirrorSnapshotMoved',
  /** The upstream GitOps ref is not an ancestor of the mirror's: the push would not fast-forward. */
  NonFastForward: 'GitMirrorNonFastForward',
  /** The declared SSH transport cannot be set up (a mounted Secret key is missing or unreadable). */
  Transport: 'GitMirrorTransport',
  /** A branch, adapter or ref name that cannot be used safely in a refspec or snapshot ref. */
  InvalidName: 'GitMirrorInvalidName',
} as const satisfies Record<string, ErrorReason>;

export type GitMirrorReason = (typeof GitMirrorReason)[keyof typeof GitMirrorReason];

// Only a transport failure can heal by itself; every other git-mirror failure needs a person.
const RETRYABLE: ReadonlySet<GitMirrorReason> = new Set([GitMirrorReason.Upstream]);

// A git-mirror stage failed. Like MirrorError it wraps the GitError (if any) as `cause`; `ref`,
// `existingSha` and `newSha` say which ref and which commits when a ref would have moved.
export class GitMirrorError extends BranchFollowerError {
  /** git's last non-empty stderr line, or a phrase saying why there is none; '' when git did not fail. */
  readonly detail: string;
  /** The ref the error is about, when there is one. */
  readonly ref: string | undefined;
  /** The commit the ref holds now (snapshot moved, non-fast-forward). */
  readonly existingSha: string | undefined;
  /** The commit the stage would have written. */
  readonly newSha: string | undefined;

  constructor(
    message: string,
    opts: {
      reason: GitMirrorReason;
      detail?: string;
      ref?: string;
      existingSha?: string;
      newSha?: string;
      cause?: unknown;
    },
  ) {
    super(message, { reason: opts.reason, retryable: RETRYABLE.has(opts.reason), cause: opts.cause });
    this.detail = opts.detail ?? '';
    this.ref = opts.ref;
    this.existingSha = opts.existingSha;
    this.newSha = opts.newSha;
  }
}
