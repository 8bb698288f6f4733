import type { Command } from 'commander';
import type { GitMirrorStage } from '../../constructs/git-mirror-stage-job.ts';
import { checkFlags, type StageFlags } from './git-mirror-select.ts';
import { TIMEOUT_FLAG } from './timeouts.ts';
import type { VerbContext } from './verb.ts';

const SUMMARY: Record<GitMirrorStage, string> = {
  status: 'show mirror cache, snapshots, GitOps ref, pendingFlush and githubInSync per branch',
  sync: 'fetch declared upstream refs and create immutable snapshot refs for branch tips',
  flush: 'fast-forward push the GitOps ref upstream (never force), then recheck',
};

const DESCRIPTION: Record<GitMirrorStage, string> = {
  sync:
    'Fetch every declared branch of the selected mirrors from its upstream (mirrors[].upstream, over the ' +
    'SSH transport of controller.source.githubSsh) into refs/mirror-stage/<branch> of the mirror cache, ' +
    'then create one immutable snapshot ref per follower tip. A snapshot ref never moves.\n\n' +
    'Without --local it runs as a Kubernetes Job (the runner pod with the mirror cache claim and the ' +
    'githubSsh Secret keys): --dry-run server-side dry-runs the Job and writes nothing, --confirm creates ' +
    'it, --wait follows it to Complete or Failed within controller.gitMirror.stageJob.waitSeconds. ' +
    'With --local it runs in this process against --mirror-dir (what the Job itself runs).\n\n' +
    'Exit codes: 0 done, 2 usage or registry, 4 neither --dry-run nor --confirm (nothing was written), ' +
    '5 a mirror failed, the Job failed or --wait ran out of time.',
  flush:
    'Push each selected follower GitOps ref (the target entry field target.gitopsRefField) from the mirror ' +
    'cache to its upstream as a fast-forward, never forced, then recheck the upstream (one controlled ' +
    'recheck after a post-push failure) and record it in refs/mirror-stage/*.\n\n' +
    'Without --local it runs as a Kubernetes Job, as for sync; with --local in this process.\n\n' +
    'Exit codes: 0 done (or a dry run), 2 usage or registry, 4 neither --dry-run nor --confirm, 5 a flush ' +
    'is not ok (refused, not confirmed upstream), the Job failed or --wait ran out of time.',
  status:
    'Per follower branch: the mirror cache sha, when a sync last moved it, whether the snapshot of the ' +
    'tip exists, the GitOps ref and its sha, pendingFlush and githubInSync (read from the mirror-stage ' +
    'cache, refSources.githubFieldsAreMirrorStageCache=true, never from the upstream); and the transport: ' +
    'source=yaml, ssh, proxy mode, the githubSsh Secret keys by name, presence and fingerprint, never their ' +
    'values. Reads only.\n\n' +
    'Without --local it reads the mirror as served (git ls-remote of mirrors[].url) and the Secret from ' +
    'the cluster; fetched-at is then unknown. With --local it reads the cache under --mirror-dir and the ' +
    'keys under --ssh-dir, fetched-at included.\n\n' +
    'Exit codes: 0 done, 2 usage or registry, 5 a mirror could not be read.',
};

const EXAMPLES: Record<GitMirrorStage, string[]> = {
  sync: [
    'branch-follower git-mirror sync --dry-run',
    'branch-follower git-mirror sync --confirm --wait',
    'branch-follower git-mirror sync --mirror hwlab --confirm --wait',
    'branch-follower git-mirror sync --local --mirror-dir /var/lib/git-mirror --confirm',
  ],
  flush: [
    'branch-follower git-mirror flush --follower hwlab-jd01-v03 --dry-run',
    'branch-follower git-mirror flush --confirm --wait',
    'branch-follower git-mirror flush --local --mirror-dir /var/lib/git-mirror --confirm',
  ],
  status: [
    'branch-follower git-mirror status',
    'branch-follower git-mirror status --follower hwlab-jd01-v03 -o json',
    'branch-follower git-mirror status --local --mirror-dir ./cache --ssh-dir ./github-ssh',
  ],
};

function addFlags(cmd: Command, stage: GitMirrorStage): Command {
  cmd.option('--mirror <id>', 'only this mirror (default: every mirror a follower uses)');
  if (stage !== 'sync')
    cmd.option(
      '--follower <id>',
      "only this follower's branch and GitOps ref (default: every follower of the mirrors)",
    );
  if (stage !== 'status') {
    cmd
      .option('--dry-run', 'say what would change; write nothing (without --local: a server-side dry run of the Job)')
      .option('--confirm', 'carry it out')
      .option(
        '--wait',
        'follow the stage Job until Complete or Failed, within controller.gitMirror.stageJob.waitSeconds',
      )
      .option(...TIMEOUT_FLAG);
  }
  return cmd
    .option('--local', 'run the stage in this process instead of as a Job (what the stage Job runs)')
    .option(
      '--mirror-dir <dir>',
      'with --local: the directory holding every mirrors[].cachePath (default: controller.gitMirror.mountPath)',
    )
    .option(
      '--ssh-dir <dir>',
      'with --local: holds identity/<key> and known-hosts/<key>; overrides controller.gitMirror.sshMountPath',
    );
}

// The git-mirror stages: the only source authority and the GitOps flush point.
export function registerGitMirror(program: Command, ctx: VerbContext): void {
  const mirror = program
    .command('git-mirror')
    .summary('git-mirror stages: status, sync, flush')
    .description('The git mirror is the only source authority and the GitOps flush point.');
  for (const stage of ['status', 'sync', 'flush'] as const) {
    const cmd = mirror.command(stage).summary(SUMMARY[stage]).description(DESCRIPTION[stage]);
    addFlags(cmd, stage)
      .addHelpText('after', `\nExamples:\n${EXAMPLES[stage].map((e) => `  ${e}`).join('\n')}\n`)
      .action(async (flags: StageFlags) => {
        checkFlags(flags);
        const { loadRegistry } = await import('../../core/config/load.ts');
        const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
        const { runStage } = await import('./git-mirror-run.ts');
        await runStage(ctx, loaded, stage, flags);
      });
  }
}
