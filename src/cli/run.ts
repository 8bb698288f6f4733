import { CommanderError } from 'commander';
import { BranchFollowerError, ConfigError } from '../../core/errors.ts';
import { ExitCode, exitCodeOf } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { paint } from '../../core/output/colour.ts';
import { colourFor } from './output-choice.ts';
import { buildProgram, type Entry } from './program.ts';

function reportError(err: unknown, io: CliIo, argv: readonly string[]): number {
  const debug = argv.includes('--debug');
  const label = colourFor(io.stderr, io.env, argv.includes('--no-color')) ? paint('error:', 'bad') : 'error:';
  if (err instanceof CommanderError) {
    // Help and version are not errors; commander already printed its own message for the rest.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
      return ExitCode.Ok;
    }
    return ExitCode.InvalidInput;
  }
  if (err instanceof BranchFollowerError) {
    const detail =
      err instanceof ConfigError ? err.message : `${err.message}${err.retryable ? ' (retrying may help)' : ''}`;
    io.stderr.write(`${label} ${detail}\n`);
    if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
    return exitCodeOf(err);
  }
  // Not one of ours: a bug. Say so plainly; the stack only with --debug.
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`internal error: ${message}\n(this is a bug; re-run with --debug for the stack trace)\n`);
  if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return ExitCode.Internal;
}

// Runs one command line and returns the exit code; never throws, never calls process.exit.
export async function runCli(argv: readonly string[], io: CliIo, entry: Entry): Promise<number> {
  const outcome = { exitCode: ExitCode.Ok as number };
  const program = buildProgram(entry, io, outcome);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome.exitCode;
  } catch (err) {
    return reportError(err, io, argv);
  }
}
