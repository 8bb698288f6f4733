import { Option, type Command } from 'commander';
import { BranchFollowerError } from '../../core/errors.ts';
import { DEFAULT_REGISTRY_PATH } from '../../core/config/default-path.ts';
import { OUTPUT_FORMATS, type OutputFormat } from '../../core/output/view.ts';

/** The options every verb accepts, set before or after the verb. */
export interface GlobalOptions {
  readonly config: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
  readonly requestTimeout?: string;
  readonly output?: (typeof OUTPUT_FORMATS)[number];
  readonly json?: boolean;
  readonly raw?: boolean;
  readonly debug?: boolean;
  /** False with --no-color. */
  readonly color: boolean;
}

// Declared once and added to the root, so `--config x validate` and `validate --config x` both work.
export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'the registry file', DEFAULT_REGISTRY_PATH)
    .option('--kubeconfig <file>', 'kubeconfig to use instead of the usual one (as kubectl)')
    .option('--context <name>', 'kubeconfig context to use instead of controller.kubeRoute.context')
    .option(
      '-n, --namespace <name>',
      'for status, events and logs: read this namespace instead of controller.namespace',
    )
    .option(
      '--request-timeout <duration>',
      'one try of an API request gives up after this (90s, 2m, …) instead of controller.kubeRoute.requestTimeoutSeconds',
    )
    .addOption(
      new Option(
        '-o, --output <format>',
        'output format: table fits 120 columns, wide shows every column, name prints kind/name',
      ).choices([...OUTPUT_FORMATS]),
    )
    .option('--json', 'same as -o json')
    .option('--raw', 'print the full underlying document instead of the compact view')
    .option('--debug', 'print stack traces of unexpected errors')
    .option('--no-color', 'no colour even on a terminal (colour is never used when piped or with NO_COLOR set)');
}

/** The one output format the options ask for; contradicting options are a usage error. */
export function outputFormat(opts: GlobalOptions): OutputFormat {
  const asked = [
    opts.output !== undefined ? `-o ${opts.output}` : undefined,
    opts.json ? '--json' : undefined,
    opts.raw ? '--raw' : undefined,
  ].filter((x): x is string => x !== undefined);
  if (asked.length > 1 && !(asked.length === 2 && opts.json && opts.output === 'json')) {
    throw new BranchFollowerError(`choose one output format, not ${asked.join(' and ')}`, {
      reason: 'InvalidUsage',
      retryable: false,
    });
  }
  if (opts.raw) return 'raw';
  if (opts.json) return 'json';
  return opts.output ?? 'table';
}
