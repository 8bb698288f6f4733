import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import {
  checkoutDirOf,
  CLI_IN_CHECKOUT,
  runnerPodSpec,
  type ContainerResources,
  type RunnerPodProps,
} from './runner-pod.ts';

/** The pod annotation the Job controller sets to the pod's index in an Indexed Job. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
/** The pass container's variable holding its shard: the pod's completion index, from the downward API. */
const SHARD_ENV = 'BRANCH_FOLLOWER_SHARD';

/**
 * The verb the pod runs: one confirmed reconcile pass over every follower of its shard, as the controller.
 * Kubernetes expands `$(BRANCH_FOLLOWER_SHARD)` in the argv from the container's env, before the process starts.
 */
const PASS_ARGS = ['run-once', '--all', '--confirm', '--wait', '--controller', '--shard', `$(${SHARD_ENV})`] as const;

/** Props of {@link ControllerCronJob}. Every value comes from the registry; none has a default. */
export interface ControllerCronJobProps {
  /** Namespace of the CronJob (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the CronJob (`controller.cronJob.name`). */
  readonly name: string;
  /**
   * Labels for the Job and pod templates, so pods can be found and told apart: the owner labels (`controller.name`,
   * `controller.partOf`) plus the component.
   */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Cron schedule of the pass (`controller.cronJob.schedule`). */
  readonly schedule: string;
  /** IANA time zone of the schedule (`controller.cronJob.timeZone`). */
  readonly timeZone: string;
  /** Always Forbid: a pass never overlaps the previous one (`controller.cronJob.concurrencyPolicy`). */
  readonly concurrencyPolicy: 'Forbid';
  /** Pause the schedule (`controller.cronJob.suspend`). */
  readonly suspend: boolean;
  /** Skip a tick missed by more than this (`controller.cronJob.startingDeadlineSeconds`). */
  readonly startingDeadlineSeconds: number;
  /** Pass deadline (`controller.cronJob.activeDeadlineSeconds`). */
  readonly activeDeadlineSeconds: number;
  /** Pod retries of each shard of one pass Job: its backoffLimitPerIndex (`controller.cronJob.backoffLimit`). */
  readonly backoffLimit: number;
  /** Pods of one pass Job, one per shard, all at once (`controller.pass.shards`). */
  readonly shards: number;
  /** Finished Jobs kept (`controller.cronJob.successfulJobsHistoryLimit`). */
  readonly successfulJobsHistoryLimit: number;
  /** Failed Jobs kept (`controller.cronJob.failedJobsHistoryLimit`). */
  readonly failedJobsHistoryLimit: number;
  /** The ServiceAccount the pass runs as (`controller.serviceAccount.name`). */
  readonly serviceAccountName: string;
  /** The runner image and its user (`controller.image`). */
  readonly image: RunnerPodProps['image'];
  /** Where the controller source is cloned from: the mirror URL and branch or tag (`controller.source.mirror`). */
  readonly source: RunnerPodProps['source'];
  /** The registry ConfigMaps, the file's SHA-256, and the path inside the clone the file goes to. */
  readonly registry: RunnerPodProps['registry'];
  /** Resources of the clone and pass containers (`controller.resources`). */
  readonly resources: {
    /** Of the clone init container (`controller.resources.clone`). */
    readonly clone: ContainerResources;
    /** Of the pass container (`controller.resources.pass`). */
    readonly pass: ContainerResources;
  };
  /** Size limits of the writable EmptyDirs (`controller.scratch`). */
  readonly scratch: RunnerPodProps['scratch'];
  /** The mirror cache claim and the githubSsh Secret keys the pass's in-process sync and flush use. */
  readonly gitMirror: RunnerPodProps['gitMirror'];
}

// Runs one reconcile pass per tick, in the runner pod (constructs/runner-pod.ts): the controller source
// cloned from the git mirror, the registry ConfigMap over the clone's registry file, the mirror cache
// claim and the githubSsh keys (the pass runs sync and flush in-process), under `restricted` Pod Security.
//
// The pass is sharded: each tick's Job is an Indexed Job of `shards` completions, all running at once
// (parallelism = completions), so Kubernetes may spread them over nodes. Pod k gets its completion
// index from the downward API and runs `--shard k`: the followers whose id hashes to k, under its own
// Lease and state ConfigMap (core/config/shards.ts).
//
// Retries are counted per shard (backoffLimitPerIndex), not per Job. With a Job-wide backoffLimit, the
// first shard to fail past it would fail the whole Job, and the Job controller would kill every other
// shard's pod mid-pass: their followers would wait a tick for nothing one shard did wrong. Per index,
// a failed shard is retried (or given up) alone while the others finish; the Job ends Failed
// (FailedIndexes) if any shard failed, so the CronJob's history and `reconcile --now` still show it.
// backoffLimit itself is then left to the API server (its default with backoffLimitPerIndex is
// "unlimited"): setting it would bring back the Job-wide cut-off.
export class ControllerCronJob extends Construct {
  /** Where the source is cloned to inside the pod. */
  public readonly checkoutDir: string;
  /** The pass container's argv. */
  public readonly passCommand: readonly string[];

  constructor(scope: Construct, id: string, props: ControllerCronJobProps) {
    super(scope, id);
    this.checkoutDir = checkoutDirOf(props);
    if (!Number.isInteger(props.shards) || props.shards < 1)
      throw new Error(`shards must be a whole number of at least 1, got ${props.shards}`);
    this.passCommand = ['node', CLI_IN_CHECKOUT, ...PASS_ARGS];
    const pod = runnerPodSpec(
      {
        image: props.image,
        source: props.source,
        registry: props.registry,
        cloneResources: props.resources.clone,
        scratch: props.scratch,
        gitMirror: props.gitMirror,
      },
      {
        name: 'reconcile-pass',
        command: this.passCommand,
        resources: props.resources.pass,
        serviceAccountName: props.serviceAccountName,
        automountServiceAccountToken: true,
        env: [
          {
            name: SHARD_ENV,
            valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } },
          },
        ],
      },
    );

    new k8s.KubeCronJob(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        schedule: props.schedule,
        timeZone: props.timeZone,
        concurrencyPolicy: props.concurrencyPolicy,
        suspend: props.suspend,
        startingDeadlineSeconds: props.startingDeadlineSeconds,
        successfulJobsHistoryLimit: props.successfulJobsHistoryLimit,
        failedJobsHistoryLimit: props.failedJobsHistoryLimit,
        jobTemplate: {
          metadata: { labels: { ...props.podLabels } },
          spec: {
            activeDeadlineSeconds: props.activeDeadlineSeconds,
            completionMode: 'Indexed',
            completions: props.shards,
            parallelism: props.shards,
            backoffLimitPerIndex: props.backoffLimit,
            template: { metadata: { labels: { ...props.podLabels } }, spec: pod },
          },
        },
      },
    });
  }
}
