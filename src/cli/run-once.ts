import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// One reconcile pass: observe through the mirror, decide, trigger at most once per sha, close out.
export function registerRunOnce(program: Command): void {
  program
    .command('run-once')
    .summary('run one reconcile pass (decisions only with --dry-run)')
    .description(
      'Run one reconcile pass over the chosen followers. --dry-run prints the decision of each ' +
        '(Noop, PendingTrigger or Blocked with a reason) and writes nothing anywhere. --confirm acts: ' +
        'sync, write-ahead record, trigger, state. --wait follows closeout within each budget. ' +
        '--controller takes the Lease first and skips (exit 0) when another live pass holds it.',
    )
    .option('--all', 'every follower in the registry')
    .option('--follower <id>', 'only this follower')
    .option('--dry-run', 'print decisions only; write nothing')
    .option('--confirm', 'act on the decisions')
    .option('--wait', 'follow closeout until success, failure or the budget')
    .option('--controller', 'run as the controller: hold the Lease while acting')
    .addHelpText('after', '\nExamples:\n  branch-follower run-once --all --dry-run\n  branch-follower run-once --follower hwlab-jd01-v03 --confirm --wait\n')
    .action(() => {
      throw new NotImplementedError('run-once');
    });
}
