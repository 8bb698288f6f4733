import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// Server-side applies the synthesized controller, prunes what it no longer synthesizes, and waits.
export function registerApply(program: Command): void {
  program
    .command('apply')
    .summary('server-side apply the controller, then wait until it is ready')
    .description(
      'Server-side apply every synthesized object in dependency order (Namespace first), prune labelled ' +
        'objects no longer synthesized, and never wipe the live state ConfigMap or the Lease holder. ' +
        'Without --confirm it prints the plan and exits 4, writing nothing.',
    )
    .option('--confirm', 'carry out the apply (without it nothing is written)')
    .option('--wait', 'poll every object until ready, within the budget declared in the registry')
    .addHelpText('after', '\nExamples:\n  branch-follower apply\n  branch-follower apply --confirm --wait\n')
    .action(() => {
      throw new NotImplementedError('apply');
    });
}
