// Exit codes scripts can rely on; documented in docs/cli.md. `plan` follows `terraform plan
// -detailed-exitcode` / `flux diff`: 0 means nothing to change, 1 means changes, anything above is an error.
export const ExitCode = {
  /** The verb did what was asked. */
  Ok: 0,
  /** `plan`: the live cluster differs from the synthesized manifests. */
  Changes: 1,
  /** The registry, an owning file or the command line is invalid; nothing was written. */
  InvalidInput: 2,
  /** The verb is declared but not implemented in this version; nothing was done. */
  NotImplemented: 3,
  /** A writing verb ran without --confirm; it printed what it would do and wrote nothing. */
  ConfirmationRequired: 4,
  /** The verb failed at run time (cluster, git, adapter, file system). */
  Failed: 5,
  /** Unexpected internal error: a bug. Re-run with --debug and report it. */
  Internal: 70,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
