import { randomBytes } from 'node:crypto';
import { SSH_KEY_MODE } from '../../constructs/runner-pod.ts';
import { stageJobName, type GitMirrorStage } from '../../constructs/git-mirror-stage-job.ts';
import type { LoadedRegistry } from '../config/load.ts';
import { BranchFollowerError, WaitTimeoutError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { FIELD_MANAGER, type KubeClient, type KubeObject } from '../kube/client.ts';
import { collectionPath, describeObject, resourceType } from '../kube/resources.ts';
import { realClock, type Clock } from '../kube/wait.ts';
import type { View } from '../output/view.ts';
import { renderManifest } from '../synth/render.ts';
import { synthesizeStageJob } from '../synth/stage-job.ts';
import type { Manifest } from '../synth/manifests.ts';

// Without --local, sync and flush run as a Kubernetes Job in the cluster (the stage Job construct):
// this module creates it (or server-side dry-runs it) and follows it to its Complete or Failed condition.

const JOB = resourceType('batch/v1', 'Job');

/** A short random suffix: every run gets its own Job. */
export function runSuffix(): string {
  return randomBytes(4).readUInt32BE(0).toString(36).padStart(5, '0').slice(-5);
}

/** The stage Job of one run, named `<cronJob.name>-mirror-<stage>-<suffix>`. */
export function stageJob(loaded: LoadedRegistry, stage: GitMirrorStage, only: { mirror: string | undefined; follower: string | undefined }, suffix = runSuffix()): Manifest {
  const name = stageJobName(loaded.registry.controller.cronJob.name, stage, suffix);
  return synthesizeStageJob(loaded, { stage, name, ...only });
}

/** POST of the Job under the field manager, strict field validation; `dryRun` writes nothing. */
export async function createJob(client: KubeClient, job: Manifest, dryRun: boolean): Promise<KubeObject> {
  const ns = job.metadata.namespace!;
  const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' });
  if (dryRun) query.set('dryRun', 'All');
  return client.post<KubeObject>(`${collectionPath(JOB, ns)}?${query}`, job, dryRun ? 'create (dry-run)' : 'create', describeObject('Job', ns, job.metadata.name));
}

/** Where a Job stands, from its status; pure. */
export interface JobState {
  /** One line for progress: the counts and true conditions, or the final condition. */
  readonly summary: string;
  readonly done: { readonly type: 'Complete' | 'Failed'; readonly reason: string; readonly message: string } | null;
}

interface JobStatus {
  active?: number;
  succeeded?: number;
  failed?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export function jobState(job: KubeObject): JobState {
  const s = (job.status as JobStatus | undefined) ?? {};
  const trueConditions = (s.conditions ?? []).filter((c) => c.status === 'True');
  const final = trueConditions.find((c) => c.type === 'Complete' || c.type === 'Failed');
  if (final) {
    const done = { type: final.type as 'Complete' | 'Failed', reason: final.reason ?? '', message: final.message ?? '' };
    const why = [done.reason, done.message].filter((x) => x !== '').join(': ');
    return { summary: why ? `${done.type} (${why})` : done.type, done };
  }
  const others = trueConditions.map((c) => c.type);
  const counts = `active ${s.active ?? 0}, succeeded ${s.succeeded ?? 0}, failed ${s.failed ?? 0}`;
  return { summary: others.length > 0 ? `${counts}, ${others.join(', ')}` : counts, done: null };
}

// Polls the Job every pollIntervalSeconds until it has a Complete or Failed condition, printing one
// progress line whenever what it shows changes; gives up after waitSeconds. The Job keeps running then.
export async function followJob(
  client: KubeClient,
  job: Manifest,
  budget: { waitSeconds: number; pollIntervalSeconds: number },
  progress: (line: string) => void,
  clock: Clock = realClock,
): Promise<JobState & { elapsedMs: number }> {
  const ns = job.metadata.namespace!;
  const name = job.metadata.name;
  const label = describeObject('Job', ns, name);
  const start = clock.now();
  let last = '';
  for (;;) {
    const live = await client.get(JOB, ns, name);
    if (!live) {
      throw new BranchFollowerError(`${label} is gone before it finished (deleted by someone, or its TTL passed); run \`branch-follower git-mirror status\` to see what it did`, {
        reason: 'KubeNotFound',
        retryable: false,
        exitCode: ExitCode.Failed,
      });
    }
    const state = jobState(live);
    const elapsedMs = clock.now() - start;
    if (state.summary !== last) {
      progress(`  ${label}: ${state.summary} (${(elapsedMs / 1000).toFixed(1)}s)`);
      last = state.summary;
    }
    if (state.done) return { ...state, elapsedMs };
    if (elapsedMs + budget.pollIntervalSeconds * 1000 > budget.waitSeconds * 1000) {
      throw new WaitTimeoutError(
        `${label} did not finish within ${budget.waitSeconds}s (controller.gitMirror.stageJob.waitSeconds); last seen: ${state.summary}. ` +
          `It keeps running until its activeDeadlineSeconds: follow it with \`kubectl -n ${ns} get job ${name}\`, then run \`branch-follower git-mirror status\``,
      );
    }
    await clock.sleep(budget.pollIntervalSeconds * 1000);
  }
}

/** The Job's settings that matter to an operator, as rows; pure. */
export function jobRows(loaded: LoadedRegistry, job: Manifest): string[][] {
  const c = loaded.registry.controller;
  const g = c.gitMirror;
  const ssh = c.source.githubSsh;
  const spec = job.spec as { template: { spec: { containers: { command: string[]; image: string }[] } } };
  const [container] = spec.template.spec.containers;
  const mode = `0${SSH_KEY_MODE.toString(8)}`;
  return [
    ['command', container!.command.join(' ')],
    ['image', container!.image],
    ['serviceAccount', `${c.serviceAccount.name} (no API token mounted)`],
    ['mirror cache', `PersistentVolumeClaim ${g.claimName} at ${g.mountPath} (read-write)`],
    ['ssh identity', `Secret ${ssh.identity.name} key ${ssh.identity.key} at ${g.sshMountPath}/identity/${ssh.identity.key} (read-only, ${mode})`],
    ['ssh known_hosts', `Secret ${ssh.knownHosts.name} key ${ssh.knownHosts.key} at ${g.sshMountPath}/known-hosts/${ssh.knownHosts.key} (read-only, ${mode})`],
    ['proxy', ssh.proxy.mode === 'connect' ? `CONNECT tunnel through ${ssh.proxy.url} (from the registry, not the environment)` : 'none'],
    ['deadline', `${g.stageJob.activeDeadlineSeconds}s (controller.gitMirror.stageJob.activeDeadlineSeconds), backoffLimit ${g.stageJob.backoffLimit}, deleted ${g.stageJob.ttlSecondsAfterFinished}s after it finishes`],
  ];
}

/** What happened to the Job: server-side dry run, created, or created and followed to its end. */
export type JobOutcome =
  | { readonly kind: 'dry-run' }
  | { readonly kind: 'created' }
  | { readonly kind: 'finished'; readonly state: JobState & { elapsedMs: number } };

export function jobView(loaded: LoadedRegistry, stage: GitMirrorStage, job: Manifest, context: string, outcome: JobOutcome): View {
  const ns = job.metadata.namespace!;
  const name = job.metadata.name;
  const label = describeObject('Job', ns, name);
  const head =
    outcome.kind === 'dry-run'
      ? `git-mirror ${stage}: would create ${label} in context ${context} (server-side dry run: nothing was written)`
      : outcome.kind === 'created'
        ? `git-mirror ${stage}: created ${label} in context ${context}`
        : `git-mirror ${stage}: ${label} ${outcome.state.summary} after ${(outcome.state.elapsedMs / 1000).toFixed(1)}s`;
  const next =
    outcome.kind === 'dry-run'
      ? [`branch-follower git-mirror ${stage} --confirm --wait`]
      : [`kubectl --context ${context} -n ${ns} logs job/${name}`, `kubectl --context ${context} -n ${ns} get job ${name}`, 'branch-follower git-mirror status'];
  return {
    data: {
      stage,
      context,
      dryRun: outcome.kind === 'dry-run',
      job: { namespace: ns, name },
      result: outcome.kind === 'finished' ? { condition: outcome.state.done, elapsedSeconds: outcome.state.elapsedMs / 1000 } : null,
      manifest: job,
    },
    raw: renderManifest(job),
    human: [{ line: head }, { table: { headers: ['field', 'value'], rows: jobRows(loaded, job) } }, { next }],
  };
}
