import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// The only way stale state is removed: explicitly, one follower at a time.
export function registerCleanupState(program: Command): void {
  program
    .command('cleanup-state')
    .summary("remove one follower's stale state record")
    .description("Remove one follower's record from the state ConfigMap, and nothing else. Without --confirm it prints what it would remove and exits 4.")
    .requiredOption('--follower <id>', 'the follower whose record is removed')
    .option('--confirm', 'carry out the removal')
    .addHelpText('after', '\nExamples:\n  branch-follower cleanup-state --follower web-probe-sentinel-master --confirm\n')
    .action(() => {
      throw new NotImplementedError('cleanup-state');
    });
}
