/** Why the error happened, in one machine-readable word; the CLI maps it to an exit code. */
export type ErrorReason =
  | 'InvalidConfig'
  | 'InvalidUsage'
  | 'ConfirmationRequired'
  | 'SynthFailed'
  | 'KubeRoute'
  | 'KubeUnreachable'
  | 'KubeUnauthorized'
  | 'KubeForbidden'
  | 'KubeNotFound'
  | 'KubeConflict'
  | 'KubeInvalid'
  | 'KubeFailed'
  | 'WaitTimedOut'
  | 'LeaseLost'
  | 'AdapterFailed'
  | 'AdapterTimeout'
  | 'AdapterOutput'
  | 'GitFailed'
  | 'GitTimedOut'
  | 'MirrorUnreachable'
  | 'GitMirrorUpstream'
  | 'GitMirrorCache'
  | 'GitMirrorBranchMissing'
  | 'GitMirrorSnapshotMoved'
  | 'GitMirrorNonFastForward'
  | 'GitMirrorInvalidName'
  | 'GitMirrorTransport';

// The one base every error the user may see derives from: a reason and whether retrying can help
// (the CLI alone turns the reason into an exit code). Anything else that escapes is a bug.
export class BranchFollowerError extends Error {
  readonly reason: ErrorReason;
  readonly retryable: boolean;

  constructor(message: string, opts: { reason: ErrorReason; retryable: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.reason = opts.reason;
    this.retryable = opts.retryable;
  }
}

/** One problem in a YAML file: where it is (YAML path and file position) and what is wrong. */
export interface ConfigIssue {
  /** The file the problem is in (the registry or an owning file it references). */
  readonly file: string;
  /** The YAML path, e.g. `followers[0].closeout.budgetSeconds`. */
  readonly path: string;
  /** 1-based line, or 0 when the file could not be read at all. */
  readonly line: number;
  /** 1-based column, or 0 when the file could not be read at all. */
  readonly column: number;
  /** What is wrong and, where it helps, what would be right. */
  readonly message: string;
  /**
   * The bad value as the file holds it (a scalar, quoted as JSON, cut at 80 characters); absent where
   * there is none (a missing field, a mapping) or it may be a secret.
   */
  readonly value?: string;
}

/**
 * Formats an issue the way compilers do, so editors can jump to it; a file that could not be read has
 * no position, and its path alone is named.
 */
export function formatConfigIssue(issue: ConfigIssue): string {
  const value = issue.value !== undefined && !issue.message.includes(issue.value) ? ` (got ${issue.value})` : '';
  if (issue.line === 0) return `${issue.file}: ${issue.message}`;
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.path}: ${issue.message}${value}`;
}

// Every problem found in the registry (and the owning files it references), reported together.
export class ConfigError extends BranchFollowerError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const n = issues.length;
    super(
      `invalid configuration: ${n} problem${n === 1 ? '' : 's'}\n` +
        issues.map((i) => `  ${formatConfigIssue(i)}`).join('\n'),
      { reason: 'InvalidConfig', retryable: false },
    );
    this.issues = issues;
  }
}

// A writing verb run without --confirm: it said what it would do and wrote nothing.
export class ConfirmationRequiredError extends BranchFollowerError {
  constructor(verb: string) {
    super(`\`${verb}\` writes; nothing was written. Re-run with --confirm to carry it out`, {
      reason: 'ConfirmationRequired',
      retryable: false,
    });
  }
}

/** What a Kubernetes request was doing, so an error can say so. */
export interface KubeRequestContext {
  /** The API verb: get, list, apply, update, create, delete. */
  readonly verb: string;
  /** `Kind namespace/name` or `Kinds in namespace`. */
  readonly resource: string;
  /** The kubeconfig context and server the request went to. */
  readonly context: string;
  readonly server: string;
}

// A failed Kubernetes request: which verb on which resource, as whom, and what the server said.
export class KubeError extends BranchFollowerError {
  readonly status: number;
  readonly request: KubeRequestContext;

  constructor(
    message: string,
    opts: { reason: ErrorReason; retryable: boolean; status: number; request: KubeRequestContext; cause?: unknown },
  ) {
    super(message, { reason: opts.reason, retryable: opts.retryable, cause: opts.cause });
    this.status = opts.status;
    this.request = opts.request;
  }
}

// Something waited for did not happen within its budget; the message names what is still missing.
export class WaitTimeoutError extends BranchFollowerError {
  constructor(message: string) {
    super(message, { reason: 'WaitTimedOut', retryable: true });
  }
}

/** A flag or argument combination the verb cannot run with; nothing was done. */
export class UsageError extends BranchFollowerError {
  constructor(message: string) {
    super(message, { reason: 'InvalidUsage', retryable: false });
  }
}
