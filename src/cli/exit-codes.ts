import type { BranchFollowerError, ErrorReason } from '../../core/errors.ts';

// Exit codes scripts can rely on; documented in docs/cli.md. `plan` follows `terraform plan
// -detailed-exitcode` / `flux diff`: 0 means nothing to change, 1 means changes, anything above is an error.
export const ExitCode = {
  /** The verb did what was asked. */
  Ok: 0,
  /** `plan`: the live cluster differs from the synthesized manifests. */
  Changes: 1,
  /** The registry, an owning file or the command line is invalid; nothing was written. */
  InvalidInput: 2,
  /** A writing verb ran without --confirm; it printed what it would do and wrote nothing. */
  ConfirmationRequired: 4,
  /** The verb failed at run time (cluster, git, adapter, file system). */
  Failed: 5,
  /** Unexpected internal error: a bug. Re-run with --debug and report it. */
  Internal: 70,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Reasons that mean the input was wrong (registry, owning file, command line, kube route): nothing was done. */
const INVALID_INPUT: ReadonlySet<ErrorReason> = new Set<ErrorReason>(['InvalidConfig', 'InvalidUsage', 'KubeRoute']);

// The one place a reason becomes an exit code: errors below the CLI carry a reason, never a code.
export function exitCodeOf(err: BranchFollowerError): ExitCode {
  if (INVALID_INPUT.has(err.reason)) return ExitCode.InvalidInput;
  if (err.reason === 'ConfirmationRequired') return ExitCode.ConfirmationRequired;
  return ExitCode.Failed;
}
