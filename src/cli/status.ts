import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

// Shows the controller, the state ConfigMap and every follower's intermediate state.
export function registerStatus(program: Command): void {
  program
    .command('status')
    .summary('show the controller, the state ConfigMap and every follower')
    .description(
      'Show the controller (CronJob schedule, last runs, Lease holder), the state ConfigMap and one row ' +
        'per follower: adapter, source branch, observed/target/last triggered/last succeeded sha, phase, ' +
        'in-flight job, budget and where it is declared, and the next drill-down command.',
    )
    .addHelpText('after', '\nExamples:\n  branch-follower status\n  branch-follower status -o yaml\n')
    .action(() => {
      throw new NotImplementedError('status');
    });
}
