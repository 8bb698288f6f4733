import type { Command } from 'commander';
import { BranchFollowerError, UsageError } from '../../core/errors.ts';
import { ExitCode } from './exit-codes.ts';
import type { KubeObject } from '../../core/kube/client.ts';
import { createJob, followJob, runSuffix } from '../../core/kube/jobs.ts';
import { describeObject, resourceType } from '../../core/kube/resources.ts';
import type { Manifest } from '../../core/kube/manifest.ts';
import { connect } from './cluster.ts';
import { TIMEOUT_FLAG, waitBudget } from './timeouts.ts';
import type { VerbContext } from './verb.ts';

const CRONJOB = resourceType('batch/v1', 'CronJob');

/** kubectl marks a Job made from a CronJob's template by hand with this annotation; so does reconcile --now. */
export const INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';

interface CronJobSpec {
  jobTemplate: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  };
}

// The Job `kubectl create job --from=cronjob/<name>` makes, from the live CronJob: its template's
// labels, annotations and spec, the manual-instantiation annotation, and the CronJob as controlling
// owner (so the CronJob's history limits and `kubectl get jobs` treat it as one of its runs). Pure.
function jobFromCronJob(cronJob: KubeObject, name: string): Manifest {
  const tpl = (cronJob.spec as CronJobSpec).jobTemplate;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cronJob.metadata.namespace!,
      labels: { ...(tpl.metadata?.labels ?? {}) },
      annotations: { ...(tpl.metadata?.annotations ?? {}), [INSTANTIATE_ANNOTATION]: 'manual' },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: cronJob.metadata.name,
          uid: cronJob.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: structuredClone(tpl.spec),
  } as Manifest;
}

// One reconcile pass now, instead of at the next schedule tick: a Job from the CronJob's template.
export function registerReconcile(program: Command, ctx: VerbContext): void {
  program
    .command('reconcile')
    .summary('run one reconcile pass now, from the CronJob template')
    .description(
      "Create a Job from the live CronJob's job template, as `kubectl create job --from=cronjob/<name>` does " +
        '(the template labels and spec, the annotation cronjob.kubernetes.io/instantiate=manual, the CronJob as ' +
        'controlling owner, a unique name), so a pass runs in seconds instead of at the next schedule tick. ' +
        'The pass is exactly the scheduled one: same pods (one per shard), same ServiceAccount, same Leases (a ' +
        'shard already running makes its pod skip).\n\n' +
        '--dry-run is a server-side dry run (nothing is written); --wait follows the Job to Complete or Failed ' +
        'within controller.reconcile.waitSeconds, that is until every shard has finished, and says per shard ' +
        'whether it succeeded or failed.\n\n' +
        'Exit codes: 0 created (with --wait: completed), 2 usage or registry, 5 the CronJob is missing, the ' +
        'pass Job failed or --wait ran out of time.',
    )
    .option('--now', 'create the pass Job now (required: reconcile has no other mode yet)')
    .option('--dry-run', 'show the Job that would be created; write nothing')
    .option('--wait', 'follow the Job until Complete or Failed, within controller.reconcile.waitSeconds')
    .option(...TIMEOUT_FLAG)
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower reconcile --now --dry-run\n  branch-follower reconcile --now --wait\n',
    )
    .action(async (opts: { now?: boolean; dryRun?: boolean; wait?: boolean; timeout?: string }) => {
      if (!opts.now) throw new UsageError('reconcile needs --now (run one pass now from the CronJob template)');
      if (opts.dryRun && opts.wait) throw new UsageError('--wait cannot follow a --dry-run: nothing is created');
      const { loadRegistry } = await import('../../core/config/load.ts');
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const c = loaded.registry.controller;
      const wait = waitBudget(opts, { waitSeconds: c.reconcile.waitSeconds, path: 'controller.reconcile.waitSeconds' });
      const client = connect(ctx, loaded);
      const cronJob = await client.get(CRONJOB, c.namespace, c.cronJob.name);
      if (!cronJob) {
        throw new BranchFollowerError(
          `${describeObject('CronJob', c.namespace, c.cronJob.name)} does not exist; run \`branch-follower apply ` +
            `--confirm --wait\` first`,
          {
            reason: 'KubeNotFound',
            retryable: false,
          },
        );
      }
      const job = jobFromCronJob(cronJob, `${c.cronJob.name}-now-${runSuffix()}`);
      const label = describeObject('Job', c.namespace, job.metadata.name);
      await createJob(client, job, opts.dryRun === true);
      if (opts.dryRun) {
        ctx.print({
          data: { dryRun: true, job: job.metadata.name, manifest: job },
          human: [
            {
              line:
                `would create ${label} from ${describeObject('CronJob', c.namespace, c.cronJob.name)} ` +
                `(server-side dry run: nothing was written)`,
            },
            { next: ['branch-follower reconcile --now --wait'] },
          ],
        });
        return;
      }
      ctx.progress(`created ${label} from the CronJob template`);
      const next = [
        `kubectl -n ${c.namespace} logs job/${job.metadata.name}`,
        'branch-follower status',
        'branch-follower events --follower <id>',
      ];
      if (!opts.wait) {
        ctx.print({
          data: { dryRun: false, job: job.metadata.name, result: null },
          human: [{ line: `created ${label}` }, { next }],
        });
        return;
      }
      ctx.progress(`waiting for ${label} (${wait.said}) ...`);
      const budget = {
        ...c.reconcile,
        waitSeconds: wait.seconds,
        heartbeatSeconds: c.progress.heartbeatSeconds,
        path: wait.path,
        after: 'branch-follower status',
      };
      const state = await followJob(client, job, budget, (l) => ctx.progress(l));
      const line = `${label}: ${state.summary} after ${(state.elapsedMs / 1000).toFixed(1)}s`;
      // One line per shard (the Job's completion index): which passes finished, which gave up.
      const shards = (state.indexes ?? []).map((i) => ({ line: `  shard ${i.index}: ${i.outcome}` }));
      ctx.print({
        data: {
          dryRun: false,
          job: job.metadata.name,
          result: {
            condition: state.done,
            elapsedSeconds: state.elapsedMs / 1000,
            shards: (state.indexes ?? []).map((i) => ({ shard: i.index, outcome: i.outcome })),
          },
        },
        human: [{ line }, ...shards, { next }],
      });
      if (state.done?.type === 'Failed') ctx.setExitCode(ExitCode.Failed);
    });
}
