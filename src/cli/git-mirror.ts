import type { Command } from 'commander';
import type { GitMirrorStage } from '../../constructs/git-mirror-stage-job.ts';
import { loadRegistry, type LoadedRegistry } from '../../core/config/load.ts';
import { ConfirmationRequiredError } from '../../core/errors.ts';
import { ExitCode } from './exit-codes.ts';
import { describeObject } from '../../core/kube/resources.ts';
import { connect } from './cluster.ts';
import { createJob, followJob } from '../../core/kube/jobs.ts';
import { jobView, stageJob, type JobOutcome } from './git-mirror-job.ts';
import { flushView, localFlush, localSync, syncView, type LocalRun } from './git-mirror-local.ts';
import { checkFlags, localMounts, selectStage, type StageFlags } from './git-mirror-select.ts';
import { clusterStatus, localStatus, mirrorStatusView, type StageFailure } from './git-mirror-status.ts';
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
      );
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

/** Ends the command: the first failure's exit code, else `exitCode`, else 4 when nothing was confirmed. */
function finish(
  ctx: VerbContext,
  stage: GitMirrorStage,
  failures: readonly StageFailure[],
  exitCode: number,
  unconfirmed: boolean,
): void {
  for (const f of failures)
    ctx.progress(`error: ${f.follower ? `follower ${f.follower}` : `mirror ${f.mirror}`}: ${f.message}`);
  const code = failures[0]?.exitCode ?? exitCode;
  if (code !== ExitCode.Ok) ctx.setExitCode(code);
  else if (unconfirmed) throw new ConfirmationRequiredError(`git-mirror ${stage}`);
}

async function runLocal(
  ctx: VerbContext,
  loaded: LoadedRegistry,
  stage: GitMirrorStage,
  flags: StageFlags,
): Promise<void> {
  const sel = selectStage(loaded, flags);
  const mounts = localMounts(loaded, flags, ctx.io.cwd);
  const pathEnv = ctx.io.env.PATH ?? '';
  const where = `mirror cache ${mounts.mirrorRoot}, ssh keys ${mounts.sshRoot}`;
  if (stage === 'status') {
    const out = await localStatus(loaded, sel, mounts, pathEnv);
    ctx.print(
      mirrorStatusView({
        where,
        ...out,
        fetchedAtSource: 'reflog',
        now: Date.now(),
        next: ['branch-follower git-mirror sync --local --dry-run'],
      }),
    );
    finish(ctx, stage, out.failures, ExitCode.Ok, false);
    return;
  }
  const run: LocalRun = { mounts, pathEnv, dryRun: !flags.confirm, progress: (l) => ctx.progress(l) };
  if (stage === 'sync') {
    const out = await localSync(loaded, sel, run);
    ctx.print(syncView(where, run.dryRun, out));
    finish(ctx, stage, out.failures, ExitCode.Ok, !flags.dryRun && !flags.confirm);
    return;
  }
  const out = await localFlush(loaded, sel, run);
  ctx.print(flushView(where, run.dryRun, out));
  const notOk = run.dryRun ? [] : out.flushed.filter((f) => !f.result.ok);
  for (const f of notOk) ctx.progress(`error: follower ${f.follower}: ${f.result.message}`);
  finish(ctx, stage, out.failures, notOk.length > 0 ? ExitCode.Failed : ExitCode.Ok, !flags.dryRun && !flags.confirm);
}

async function runInCluster(
  ctx: VerbContext,
  loaded: LoadedRegistry,
  stage: GitMirrorStage,
  flags: StageFlags,
): Promise<void> {
  const sel = selectStage(loaded, flags); // unknown ids are refused before anything reaches the cluster
  const client = connect(ctx, loaded);
  if (stage === 'status') {
    const out = await clusterStatus(loaded, sel, client, ctx.io.env.PATH ?? '');
    const where =
      `mirrors as served (${sel.mirrors.map((m) => m.url).join(', ')}), Secrets in context ` +
      `${client.route.context}`;
    ctx.print(
      mirrorStatusView({
        where,
        ...out,
        fetchedAtSource: 'unknown',
        now: Date.now(),
        next: ['branch-follower git-mirror sync --confirm --wait'],
      }),
    );
    finish(ctx, stage, out.failures, ExitCode.Ok, false);
    return;
  }
  const job = stageJob(loaded, stage, { mirror: flags.mirror, follower: flags.follower });
  const label = describeObject('Job', job.metadata.namespace, job.metadata.name);
  const dryRun = !flags.confirm;
  ctx.progress(
    `${dryRun ? 'server-side dry run of creating' : 'creating'} ${label} in context ${client.route.context} ` +
      `(${client.route.server}) ...`,
  );
  await createJob(client, job, dryRun);
  let outcome: JobOutcome = { kind: dryRun ? 'dry-run' : 'created' };
  if (flags.wait) {
    const { waitSeconds, pollIntervalSeconds } = loaded.registry.controller.gitMirror.stageJob;
    ctx.progress(
      `created ${label}; waiting for Complete or Failed (budget ${waitSeconds}s, ` +
        `controller.gitMirror.stageJob.waitSeconds) ...`,
    );
    const budget = {
      waitSeconds,
      pollIntervalSeconds,
      path: 'controller.gitMirror.stageJob.waitSeconds',
      after: 'branch-follower git-mirror status',
    };
    outcome = { kind: 'finished', state: await followJob(client, job, budget, (l) => ctx.progress(l)) };
  }
  ctx.print(jobView(loaded, stage, job, client.route.context, outcome));
  const failed = outcome.kind === 'finished' && outcome.state.done?.type === 'Failed' ? outcome.state : undefined;
  if (failed)
    ctx.progress(
      `error: ${label} ${failed.summary}; see its pod's log: kubectl -n ${job.metadata.namespace} logs ` +
        `job/${job.metadata.name}`,
    );
  finish(ctx, stage, [], failed !== undefined ? ExitCode.Failed : ExitCode.Ok, !flags.dryRun && !flags.confirm);
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
        const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
        await (flags.local ? runLocal(ctx, loaded, stage, flags) : runInCluster(ctx, loaded, stage, flags));
      });
  }
}
