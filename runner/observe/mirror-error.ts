import { BranchFollowerError } from '../../core/errors.ts';

// The git mirror could not be read (unreachable, refused, timed out, repository missing). Retryable:
// the mirror is a Kubernetes Service that comes back. Wraps the GitError as `cause`.
export class MirrorError extends BranchFollowerError {
  /** The mirror id(s) served at `url`, as named in the registry. */
  readonly mirror: string;
  readonly url: string;
  /** git's last non-empty stderr line, or a phrase saying why there is none. */
  readonly detail: string;

  constructor(opts: { mirror: string; url: string; detail: string; cause?: unknown }) {
    super(
      `git mirror ${opts.mirror} (${opts.url}) could not be read: ${opts.detail}. ` +
        'Check the git mirror Service, then run `branch-follower git-mirror status`',
      { reason: 'MirrorUnreachable', retryable: true, cause: opts.cause },
    );
    this.mirror = opts.mirror;
    this.url = opts.url;
    this.detail = opts.detail;
  }
}
