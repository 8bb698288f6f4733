import type { Command } from 'commander';
import { NotImplementedError } from '../errors.ts';

const STAGES = {
  status: 'show mirror cache, snapshots, GitOps ref, pendingFlush and githubInSync per branch',
  sync: 'fetch declared upstream refs and create immutable snapshot refs for branch tips',
  flush: 'fast-forward push the GitOps ref upstream (never force), then recheck',
} as const;

// The git-mirror stages: the only source authority and the GitOps flush point.
export function registerGitMirror(program: Command): void {
  const mirror = program
    .command('git-mirror')
    .summary('git-mirror stages: status, sync, flush')
    .description('The git mirror is the only source authority and the GitOps flush point.');
  for (const [stage, summary] of Object.entries(STAGES)) {
    const cmd = mirror.command(stage).summary(summary).description(`${summary[0]!.toUpperCase()}${summary.slice(1)}.`);
    if (stage !== 'status') {
      cmd.option('--dry-run', 'say what would change; write nothing').option('--confirm', 'carry it out');
    }
    cmd
      .option('--wait', 'follow the stage Job until it ends')
      .addHelpText('after', `\nExamples:\n  branch-follower git-mirror ${stage}${stage === 'status' ? '' : ' --confirm --wait'}\n`)
      .action(() => {
        throw new NotImplementedError(`git-mirror ${stage}`);
      });
  }
}
