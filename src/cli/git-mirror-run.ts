import type { GitMirrorStage } from '../../constructs/git-mirror-stage-job.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { ConfirmationRequiredError } from '../../core/errors.ts';
import { ExitCode } from './exit-codes.ts';
import { describeObject } from '../../core/kube/resources.ts';
import { connect } from './cluster.ts';
import { createJob, followJob } from '../../core/kube/jobs.ts';
import { jobView, stageJob, type JobOutcome } from './git-mirror-job.ts';
import { flushView, localFlush, localSync, syncView, type LocalRun } from './git-mirror-local.ts';
import { localMounts, selectStage, type StageFlags } from './git-mirror-select.ts';
import { waitBudget } from './timeouts.ts';
import { clusterStatus, localStatus, mirrorStatusView, type StageFailure } from './git-mirror-status.ts';
import type { VerbContext } from './verb.ts';

// What a git-mirror stage verb runs, in this process (--local) or as a Job; git-mirror.ts declares
// the verbs and imports this module only when one of them runs (it brings the runner and the
// stage Job construct).

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
    const wait = waitBudget(flags, { waitSeconds, path: 'controller.gitMirror.stageJob.waitSeconds' });
    ctx.progress(`created ${label}; waiting for Complete or Failed (${wait.said}) ...`);
    const budget = {
      waitSeconds: wait.seconds,
      pollIntervalSeconds,
      heartbeatSeconds: loaded.registry.controller.progress.heartbeatSeconds,
      path: wait.path,
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

/** Runs one stage on the loaded registry: in this process with --local, else as a Job. */
export async function runStage(
  ctx: VerbContext,
  loaded: LoadedRegistry,
  stage: GitMirrorStage,
  flags: StageFlags,
): Promise<void> {
  await (flags.local ? runLocal(ctx, loaded, stage, flags) : runInCluster(ctx, loaded, stage, flags));
}
