import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// A follower's lines from the controller pass pods and the adapter output tails kept in state.
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .summary("show a follower's lines from the pass pods and adapter output")
    .description("Show a follower's lines from the controller Jobs' pods and the last adapter output tails kept in its state record, redacted.")
    .requiredOption('--follower <id>', 'the follower')
    .addHelpText('after', '\nExamples:\n  branch-follower logs --follower agentrun-jd01-v02\n')
    .action(() => {
      throw new NotImplementedError('logs');
    });
}
