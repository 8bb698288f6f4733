import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// Synthesizes and diffs against the live cluster (server-side dry-run apply per object).
export function registerPlan(program: Command): void {
  program
    .command('plan')
    .summary('synthesize and diff against the live cluster')
    .description(
      'Synthesize the controller and compare every object with the live cluster using a server-side ' +
        'dry-run apply. Prints kind, namespace/name and action (create, update, unchanged, prune). ' +
        'Exit codes: 0 nothing to change, 1 changes, 2 and above an error.',
    )
    .option('--diff', 'show a field-level unified diff of each change (Secret values never shown)')
    .addHelpText('after', '\nExamples:\n  branch-follower plan\n  branch-follower plan --diff --context unidesk-jd01\n')
    .action(() => {
      throw new NotImplementedError('plan');
    });
}
