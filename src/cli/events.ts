import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// A follower's Kubernetes Events together with the state's own transition history.
export function registerEvents(program: Command): void {
  program
    .command('events')
    .summary("show a follower's events and transition history")
    .description("Show a follower's Kubernetes Events together with the transition history kept in its state record (Events expire after an hour; the history does not).")
    .requiredOption('--follower <id>', 'the follower')
    .addHelpText('after', '\nExamples:\n  branch-follower events --follower hwlab-jd01-v03\n')
    .action(() => {
      throw new NotImplementedError('events');
    });
}
