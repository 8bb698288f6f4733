import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { renderArgv } from '../../core/config/placeholders.ts';
import type { AdapterConfig } from '../../core/config/schema.ts';
import { BranchFollowerError, type ErrorReason } from '../../core/errors.ts';
import { succeeded, type ProcessResult } from '../../core/process/run-direct.ts';
import { runInHelper } from '../../core/process/spawner.ts';
import { freshProcessDirAsync } from '../process-dir.ts';
import { AdapterStatusSchema, AdapterTriggerSchema, type AdapterStatus, type AdapterTrigger } from './contract.ts';
import { lastLines, redactSecrets, redactStrings, tail, type SecretLiterals } from './redact.ts';

/** Bytes of stderr kept (after redaction) for results and errors. */
const STDERR_TAIL_BYTES = 2048;
/** Lines of that tail quoted in an error message. */
const STDERR_LINES_IN_MESSAGE = 10;

export type AdapterVerb = 'status' | 'trigger';

export interface AdapterCommandOptions {
  /** The adapter whose command runs. */
  readonly adapter: AdapterConfig;
  /** The follower it runs for (named in errors). */
  readonly followerId: string;
  /** Which of the adapter's commands. */
  readonly verb: AdapterVerb;
  /** Placeholder values: the follower's static values plus `sha` and `snapshotRef`. */
  readonly values: ReadonlyMap<string, string>;
  /** The only variable passed through to the adapter; HOME and LANG are fixed. */
  readonly env: { readonly PATH: string };
  /** The values of the mounted Secret keys, redacted wherever they show up besides the shapes. */
  readonly literals: SecretLiterals;
}

/** What one adapter command printed, already redacted. */
export interface AdapterCommandResult {
  readonly argv: string[];
  readonly stdout: string;
  readonly stderrTail: string;
  readonly durationMs: number;
}

/** Which command failed, for the message and the error's fields. */
interface CommandContext {
  readonly adapterId: string;
  readonly followerId: string;
  readonly verb: AdapterVerb;
  readonly argv: readonly string[];
  readonly literals: SecretLiterals;
}

// An adapter command failed, hung, printed too much or printed something off-contract. Everything it
// carries is redacted; it holds no unredacted output of the child (no cause with its stdout).
export class AdapterError extends BranchFollowerError {
  readonly adapterId: string;
  readonly followerId: string;
  readonly verb: AdapterVerb;
  /** The command, redacted. */
  readonly argv: readonly string[];
  readonly argv0: string;
  /** The child's exit code, when it exited by itself. */
  readonly childExitCode: number | undefined;
  /** The end of its stderr, redacted. */
  readonly stderrTail: string;

  constructor(
    ctx: CommandContext,
    what: string,
    opts: {
      reason: ErrorReason;
      retryable: boolean;
      stderrTail: string;
      childExitCode?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(adapterMessage(ctx, what, opts.stderrTail), {
      reason: opts.reason,
      retryable: opts.retryable,
      cause: opts.cause,
    });
    this.adapterId = ctx.adapterId;
    this.followerId = ctx.followerId;
    this.verb = ctx.verb;
    this.argv = ctx.argv;
    this.argv0 = ctx.argv[0] ?? '';
    this.childExitCode = opts.childExitCode;
    this.stderrTail = opts.stderrTail;
  }
}

/** `adapter A (follower F): `cmd` what` plus the last lines of stderr, all redacted. */
function adapterMessage(ctx: CommandContext, what: string, stderrTail: string): string {
  const command = redactSecrets(ctx.argv.join(' '), ctx.literals);
  const head = redactSecrets(
    `adapter ${ctx.adapterId} (follower ${ctx.followerId}): ${ctx.verb} command \`${command}\` ${what}`,
    ctx.literals,
  );
  const lines = lastLines(stderrTail, STDERR_LINES_IN_MESSAGE);
  if (lines.length === 0) return `${head}\n  stderr: (empty)`;
  return `${head}\n  stderr (last ${lines.length} line${lines.length === 1 ? '' : 's'}):\n${lines.map((l) => `    ${l}`).join('\n')}`;
}

/** Says why a failed command failed: the reason, whether a retry can help, and one phrase. */
function failure(
  result: ProcessResult,
  adapter: AdapterConfig,
): { reason: ErrorReason; retryable: boolean; what: string } {
  if (result.timedOut) {
    return {
      reason: 'AdapterTimeout',
      retryable: true,
      what: `timed out after ${adapter.timeoutSeconds}s (timeoutSeconds) and was killed`,
    };
  }
  if (result.overflowed !== undefined) {
    return {
      reason: 'AdapterOutput',
      retryable: false,
      what: `printed more than maxOutputBytes (${adapter.maxOutputBytes} bytes) on ${result.overflowed} and was killed`,
    };
  }
  if (result.startError !== undefined) {
    return {
      reason: 'AdapterFailed',
      retryable: false,
      what: `could not be started (${result.startError}): is it on PATH and executable?`,
    };
  }
  if (result.exitCode !== undefined)
    return { reason: 'AdapterFailed', retryable: true, what: `exited with code ${result.exitCode}` };
  return { reason: 'AdapterFailed', retryable: true, what: `was killed by ${result.signal}` };
}

// Runs one adapter command the only way the pass may: no shell, a fresh empty cwd, a three-variable
// environment, a hard timeout and an output cap. Returns only redacted text; failures are AdapterErrors.
export async function runAdapterCommand(opts: AdapterCommandOptions): Promise<AdapterCommandResult> {
  const { adapter } = opts;
  const rendered = renderArgv(adapter.commands[opts.verb], opts.values);
  const ctx: CommandContext = {
    adapterId: adapter.id,
    followerId: opts.followerId,
    verb: opts.verb,
    argv: rendered.map((word) => redactSecrets(word, opts.literals)),
    literals: opts.literals,
  };
  const [file = '', ...args] = rendered;
  // A directory of its own, empty, removed afterwards (or by the next pass, if this one is killed:
  // runner/process-dir.ts): no command sees another's files, or leaves its own.
  const scratch = await freshProcessDirAsync(join(tmpdir(), 'bf-adapter'));
  const result = await runInHelper({
    file,
    args,
    cwd: scratch,
    env: { PATH: opts.env.PATH, HOME: scratch, LANG: 'C.UTF-8' },
    timeoutMs: adapter.timeoutSeconds * 1000,
    maxOutputBytes: adapter.maxOutputBytes,
  }).finally(() => rm(scratch, { recursive: true, force: true }));
  const stdout = redactSecrets(result.stdout.toString('utf8'), opts.literals);
  const stderrTail = tail(redactSecrets(result.stderr.toString('utf8'), opts.literals), STDERR_TAIL_BYTES);
  if (!succeeded(result)) {
    const why = failure(result, adapter);
    throw new AdapterError(ctx, why.what, { ...why, stderrTail, childExitCode: result.exitCode });
  }
  return { argv: [...ctx.argv], stdout, stderrTail, durationMs: result.durationMs };
}

/** `run.sha`, `mirror.pendingFlush`, `targets[0]`; the root is `(the whole output)`. */
function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(the whole output)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Parses a command's stdout against one contract schema, or says which field is wrong. */
function parseOutput<T>(schema: z.ZodType<T>, run: AdapterCommandResult, ctx: CommandContext): T {
  const fail = (what: string, cause?: unknown) =>
    new AdapterError(ctx, what, {
      reason: 'AdapterOutput',
      retryable: false,
      stderrTail: run.stderrTail,
      childExitCode: 0,
      cause,
    });
  if (run.stdout.trim() === '') throw fail('exited 0 but printed nothing on stdout (expected one JSON object)');
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch (e) {
    throw fail(`printed output that is not valid JSON (${e instanceof Error ? e.message : String(e)})`, e);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return redactStrings(parsed.data, ctx.literals);
  const [first, ...rest] = parsed.error.issues;
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length === 1 ? '' : 's'})` : '';
  throw fail(
    `printed JSON that does not match the adapter contract: field ${fieldPath(first?.path ?? [])}: ` +
      `${first?.message ?? 'invalid'}${more}`,
    parsed.error,
  );
}

type ParseOptions = Omit<AdapterCommandOptions, 'verb'>;

const contextOf = (opts: ParseOptions, verb: AdapterVerb, run: AdapterCommandResult): CommandContext => ({
  adapterId: opts.adapter.id,
  followerId: opts.followerId,
  verb,
  argv: run.argv,
  literals: opts.literals,
});

// The pass observes a control plane only through this: the compact status, checked against the contract.
export async function readStatus(opts: ParseOptions): Promise<AdapterStatus> {
  const run = await runAdapterCommand({ ...opts, verb: 'status' });
  return parseOutput(AdapterStatusSchema, run, contextOf(opts, 'status', run));
}

// The pass starts a run only through this; the returned run name is what closeout waits for.
export async function trigger(opts: ParseOptions): Promise<AdapterTrigger> {
  const run = await runAdapterCommand({ ...opts, verb: 'trigger' });
  return parseOutput(AdapterTriggerSchema, run, contextOf(opts, 'trigger', run));
}
