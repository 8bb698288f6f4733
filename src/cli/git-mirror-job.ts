import { SSH_KEY_MODE } from '../../constructs/runner-pod.ts';
import { stageJobName, type GitMirrorStage } from '../../constructs/git-mirror-stage-job.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { runSuffix, type JobState } from '../../core/kube/jobs.ts';
import { describeObject } from '../../core/kube/resources.ts';
import type { View } from '../../core/output/view.ts';
import { renderManifest } from '../../core/kube/render.ts';
import { synthesizeStageJob } from '../../synth/stage-job.ts';
import type { Manifest } from '../../core/kube/manifest.ts';

// Without --local, sync and flush run as a Kubernetes Job in the cluster (the stage Job construct):
// this module builds it and shows it; core/kube/jobs.ts creates and follows it.

/** The stage Job of one run, named `<cronJob.name>-mirror-<stage>-<suffix>`. */
export function stageJob(
  loaded: LoadedRegistry,
  stage: GitMirrorStage,
  only: { mirror: string | undefined; follower: string | undefined },
  suffix = runSuffix(),
): Manifest {
  const name = stageJobName(loaded.registry.controller.cronJob.name, stage, suffix);
  return synthesizeStageJob(loaded, { stage, name, ...only });
}

/** The Job's settings that matter to an operator, as rows; pure. */
function jobRows(loaded: LoadedRegistry, job: Manifest): string[][] {
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
    [
      'ssh identity',
      `Secret ${ssh.identity.name} key ${ssh.identity.key} at ${g.sshMountPath}/identity/${ssh.identity.key} ` +
        `(read-only, ${mode})`,
    ],
    [
      'ssh known_hosts',
      `Secret ${ssh.knownHosts.name} key ${ssh.knownHosts.key} at ` +
        `${g.sshMountPath}/known-hosts/${ssh.knownHosts.key} (read-only, ${mode})`,
    ],
    [
      'proxy',
      ssh.proxy.mode === 'connect'
        ? `CONNECT tunnel through ${ssh.proxy.url} (from the registry, not the environment)`
        : 'none',
    ],
    [
      'deadline',
      `${g.stageJob.activeDeadlineSeconds}s (controller.gitMirror.stageJob.activeDeadlineSeconds), backoffLimit ` +
        `${g.stageJob.backoffLimit}, deleted ${g.stageJob.ttlSecondsAfterFinished}s after it finishes`,
    ],
  ];
}

/** What happened to the Job: server-side dry run, created, or created and followed to its end. */
export type JobOutcome =
  | { readonly kind: 'dry-run' }
  | { readonly kind: 'created' }
  | { readonly kind: 'finished'; readonly state: JobState & { elapsedMs: number } };

export function jobView(
  loaded: LoadedRegistry,
  stage: GitMirrorStage,
  job: Manifest,
  context: string,
  outcome: JobOutcome,
): View {
  const ns = job.metadata.namespace!;
  const name = job.metadata.name;
  const label = describeObject('Job', ns, name);
  const head =
    outcome.kind === 'dry-run'
      ? `git-mirror ${stage}: would create ${label} in context ${context} (server-side dry run: nothing was written)`
      : outcome.kind === 'created'
        ? `git-mirror ${stage}: created ${label} in context ${context}`
        : `git-mirror ${stage}: ${label} ${outcome.state.summary} after ` +
          `${(outcome.state.elapsedMs / 1000).toFixed(1)}s`;
  const next =
    outcome.kind === 'dry-run'
      ? [`branch-follower git-mirror ${stage} --confirm --wait`]
      : [
          `kubectl --context ${context} -n ${ns} logs job/${name}`,
          `kubectl --context ${context} -n ${ns} get job ${name}`,
          'branch-follower git-mirror status',
        ];
  return {
    data: {
      stage,
      context,
      dryRun: outcome.kind === 'dry-run',
      job: { namespace: ns, name },
      result:
        outcome.kind === 'finished'
          ? { condition: outcome.state.done, elapsedSeconds: outcome.state.elapsedMs / 1000 }
          : null,
      manifest: job,
    },
    raw: renderManifest(job),
    human: [{ line: head }, { table: { headers: ['field', 'value'], rows: jobRows(loaded, job) } }, { next }],
  };
}
