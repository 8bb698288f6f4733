import type { Command } from 'commander';
import { UsageError } from '../../core/errors.ts';
import { completionScript, SHELLS, type CompletionNode, type Shell } from './completion-script.ts';
import type { VerbContext } from './verb.ts';

/** A command as completion sees it: its name, summary, flags (long and short) and verbs. */
function nodeOf(cmd: Command): CompletionNode {
  return {
    name: cmd.name(),
    summary: cmd.summary() || cmd.description().split('\n')[0]!,
    flags: cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)),
    values: Object.fromEntries(
      cmd.options.flatMap((o) =>
        o.argChoices
          ? [o.long, o.short].filter((f): f is string => f !== undefined).map((f) => [f, o.argChoices!])
          : [],
      ),
    ),
    verbs: cmd.commands.map(nodeOf),
  };
}

// Prints a completion script for the verbs and options of this program, as `kubectl completion` does.
export function registerCompletion(program: Command, ctx: VerbContext): void {
  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh or fish)')
    .description(
      'Print a script that completes the verbs and options of this program in bash, zsh or fish. ' +
        'Load it in the current shell, or add the line to the shell start-up file. Writes nothing.',
    )
    .argument('<shell>', `one of ${SHELLS.join(', ')}`)
    .addHelpText(
      'after',
      '\nExamples:\n  source <(branch-follower completion bash)\n  source <(branch-follower completion zsh)\n' +
        '  branch-follower completion fish | source\n',
    )
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new UsageError(`completion "${shell}": the shell must be one of ${SHELLS.join(', ')}`);
      // The whole program as typed: `branch-follower …`, or `cicd branch-follower …`.
      let top = program;
      while (top.parent) top = top.parent;
      ctx.io.stdout.write(completionScript(shell as Shell, nodeOf(top)));
    });
}
