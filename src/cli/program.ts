import { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { renderView, type View } from '../../core/output/view.ts';
import { registerApply } from './apply.ts';
import { registerCleanupState } from './cleanup-state.ts';
import { registerCompletion } from './completion.ts';
import { registerEvents } from './events.ts';
import { registerGitMirror } from './git-mirror.ts';
import { addGlobalOptions, outputFormat, type GlobalOptions } from './global-options.ts';
import type { CliIo } from './io.ts';
import { refuseNamespaceOutsideReads } from './namespace.ts';
import { colourFor, refuseNameWhereNothingListed } from './output-choice.ts';
import { registerLogs } from './logs.ts';
import { registerPlan } from './plan.ts';
import { registerReconcile } from './reconcile.ts';
import { registerRunOnce } from './run-once.ts';
import { registerStatus } from './status.ts';
import { registerSynth } from './synth.ts';
import { registerValidate } from './validate.ts';
import type { VerbContext } from './verb.ts';

const HELP_WIDTH = 100;

const DESCRIPTION =
  'YAML-first, Kubernetes-native CI/CD branch follower. Watches upstream branches only through the ' +
  'git mirror, triggers the existing deployment control plane exactly once per new sha through the ' +
  'adapter declared in the registry, and follows it to closeout within the declared budget.\n\n' +
  'Writing verbs need --confirm; without it they say what they would do and exit 4. ' +
  'Exit codes: 0 ok, 1 plan has changes, 2 invalid registry or usage, 3 not implemented in this ' +
  'version, 4 confirmation required, 5 failed at run time, 70 internal error.';

// Adds every verb to `cmd`, which is the root of `branch-follower` or the `branch-follower` under `cicd`.
function addVerbs(cmd: Command, io: CliIo, outcome: Outcome): void {
  addGlobalOptions(cmd);
  refuseNamespaceOutsideReads(cmd);
  refuseNameWhereNothingListed(cmd);
  const print = (view: View) => {
    const opts = cmd.opts<GlobalOptions>();
    io.stdout.write(renderView(view, outputFormat(opts), { colour: colourFor(io.stdout, io.env, !opts.color) }));
  };
  const ctx: VerbContext = {
    io,
    globals: () => cmd.opts<GlobalOptions>(),
    print,
    progress: (line: string) => io.stderr.write(`${line}\n`),
    setExitCode: (code: number) => {
      outcome.exitCode = code;
    },
  };
  registerValidate(cmd, ctx);
  registerSynth(cmd, ctx);
  registerPlan(cmd, ctx);
  registerApply(cmd, ctx);
  registerStatus(cmd, ctx);
  registerRunOnce(cmd, ctx);
  registerReconcile(cmd, ctx);
  registerEvents(cmd, ctx);
  registerLogs(cmd, ctx);
  registerCleanupState(cmd, ctx);
  registerGitMirror(cmd, ctx);
  registerCompletion(cmd, ctx);
}

function configure(cmd: Command, io: CliIo): Command {
  return (
    cmd
      .exitOverride()
      .enablePositionalOptions(false)
      .showHelpAfterError('(run with --help for usage)')
      // Every verb's help lists the global options too (--config, --kubeconfig, --context, -o), as
      // kubectl's `options` does.
      .configureHelp({ showGlobalOptions: true })
      .configureOutput({
        writeOut: (s) => io.stdout.write(s),
        writeErr: (s) => io.stderr.write(s),
        // A fixed width keeps --help the same on every terminal (and in golden files).
        getOutHelpWidth: () => HELP_WIDTH,
        getErrHelpWidth: () => HELP_WIDTH,
      })
  );
}

/** How a command ended when it did not throw. */
export interface Outcome {
  exitCode: number;
}

/** The program as invoked: `branch-follower <verb>`, or `cicd branch-follower <verb>`. */
export type Entry = 'branch-follower' | 'cicd';

// Builds the commander program; settings made before `.command()` are inherited by every verb.
export function buildProgram(entry: Entry, io: CliIo, outcome: Outcome): Command {
  if (entry === 'branch-follower') {
    const program = configure(new Command('branch-follower'), io).description(DESCRIPTION).version(pkg.version);
    addVerbs(program, io, outcome);
    return program;
  }
  const cicd = configure(new Command('cicd'), io).description('UniDesk CI/CD commands.');
  const follower = cicd.command('branch-follower').description(DESCRIPTION).version(pkg.version);
  addVerbs(follower, io, outcome);
  return cicd;
}
