import type { Command } from 'commander';
import { UsageError } from '../../core/errors.ts';
import type { CliIo } from './io.ts';

// What the terminal and the flags say about output beyond its format: whether colour may be used, and
// where -o name means something.

/** The verbs that list things by name, and so print them with -o name (as `kubectl get -o name`). */
const NAME_VERBS = ['status', 'events', 'plan', 'git-mirror status'] as const;

/** The verb as typed: `status`, or `git-mirror status` for a subcommand. */
export function verbName(program: Command, action: Command): string {
  return action.parent === program ? action.name() : `${action.parent?.name()} ${action.name()}`;
}

/** Refuses -o name for a verb that lists nothing, before that verb runs (and writes anything). */
export function refuseNameWhereNothingListed(program: Command): void {
  program.hook('preAction', (_root, action) => {
    if (program.opts<{ output?: string }>().output !== 'name') return;
    const verb = verbName(program, action);
    if ((NAME_VERBS as readonly string[]).includes(verb)) return;
    throw new UsageError(`-o name lists names, and only ${NAME_VERBS.join(', ')} list things; ${verb} does not`);
  });
}

// Colour only on a terminal, never with NO_COLOR set to anything (no-color.org), never with
// --no-color, never on a dumb terminal: a pipe or a file gets plain text, the same as golden files.
export function colourFor(stream: CliIo['stdout'], env: NodeJS.ProcessEnv, noColour: boolean): boolean {
  if (noColour || stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}
