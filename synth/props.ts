import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ControllerChartProps } from '../constructs/controller-chart.ts';
import {
  STAGE_COMPONENT,
  type GitMirrorStage,
  type GitMirrorStageJobProps,
} from '../constructs/git-mirror-stage-job.ts';
import { registryPartRefs, splitRegistryText } from '../constructs/registry-parts.ts';
import type { RunnerPodProps } from '../constructs/runner-pod.ts';
import type { LoadedRegistry } from '../core/config/load.ts';
import { shardIndexes, shardLeaseName, stateObjectIndexes, stateObjectName } from '../core/config/shards.ts';

// The registry's side of the constructs: every prop from the validated registry (and, for a stage
// Job, the operator's request), nothing invented. The constructs know nothing of the registry.

/** Where, inside the controller source, the spec keeps the registry; the mounted one replaces it. */
const REGISTRY_PATH_IN_SOURCE = 'config/cicd-branch-followers.yaml';

/** The labels every object carries. */
export function ownerLabels(loaded: LoadedRegistry): Record<string, string> {
  const c = loaded.registry.controller;
  return {
    'app.kubernetes.io/name': 'branch-follower',
    'app.kubernetes.io/instance': c.name,
    'app.kubernetes.io/part-of': c.partOf,
    'app.kubernetes.io/managed-by': 'branch-follower',
  };
}

/** The runner pod of the pass and of a stage Job; `parts` is the registry text as splitRegistryText cuts it. */
function runnerPodPropsOf(loaded: LoadedRegistry, parts: readonly string[]): RunnerPodProps {
  const c = loaded.registry.controller;
  const mirror = loaded.registry.mirrors.find((m) => m.id === c.source.mirror.mirror);
  if (!mirror) throw new Error(`controller.source.mirror.mirror "${c.source.mirror.mirror}" names no mirror`);
  const ssh = c.source.githubSsh;
  return {
    image: c.image,
    source: { url: mirror.url, ref: c.source.mirror.ref },
    registry: {
      parts: registryPartRefs(c.configMaps.registry, basename(REGISTRY_PATH_IN_SOURCE), parts.length),
      sha256: createHash('sha256').update(loaded.text).digest('hex'),
      overlayPath: REGISTRY_PATH_IN_SOURCE,
    },
    cloneResources: c.resources.clone,
    scratch: c.scratch,
    gitMirror: {
      claimName: c.gitMirror.claimName,
      mountPath: c.gitMirror.mountPath,
      sshMountPath: c.gitMirror.sshMountPath,
      identity: { secretName: ssh.identity.name, key: ssh.identity.key },
      knownHosts: { secretName: ssh.knownHosts.name, key: ssh.knownHosts.key },
    },
  };
}

/** The whole controller, as `dist/` holds it. */
export function controllerChartPropsOf(loaded: LoadedRegistry): ControllerChartProps {
  const c = loaded.registry.controller;
  const j = c.cronJob;
  const parts = splitRegistryText(loaded.text);
  const shards = shardIndexes(c);
  return {
    labels: ownerLabels(loaded),
    namespace: c.namespace,
    name: c.name,
    serviceAccountName: c.serviceAccount.name,
    state: {
      objectNames: stateObjectIndexes(c).map((b) => stateObjectName(c, b)),
      carriedOverName: c.configMaps.state,
    },
    lease: {
      name: c.lease.name,
      shardNames: shards.map((k) => shardLeaseName(c, k)),
      durationSeconds: c.lease.durationSeconds,
    },
    registryParts: parts,
    cronJob: {
      name: j.name,
      schedule: j.schedule,
      timeZone: j.timeZone,
      concurrencyPolicy: j.concurrencyPolicy,
      suspend: j.suspend,
      startingDeadlineSeconds: j.startingDeadlineSeconds,
      activeDeadlineSeconds: j.activeDeadlineSeconds,
      backoffLimit: j.backoffLimit,
      shards: c.pass.shards,
      successfulJobsHistoryLimit: j.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: j.failedJobsHistoryLimit,
    },
    pod: runnerPodPropsOf(loaded, parts),
    passResources: c.resources.pass,
  };
}

/** What the operator asked for: the stage, the Job name, and the optional narrowing. */
export interface StageJobRequest {
  readonly stage: GitMirrorStage;
  readonly name: string;
  readonly mirror: string | undefined;
  readonly follower: string | undefined;
}

/** One run of one git-mirror stage. */
export function stageJobPropsOf(loaded: LoadedRegistry, request: StageJobRequest): GitMirrorStageJobProps {
  const c = loaded.registry.controller;
  const j = c.gitMirror.stageJob;
  return {
    namespace: c.namespace,
    name: request.name,
    labels: { ...ownerLabels(loaded), 'app.kubernetes.io/component': STAGE_COMPONENT },
    stage: request.stage,
    mirror: request.mirror,
    follower: request.follower,
    serviceAccountName: c.serviceAccount.name,
    pod: runnerPodPropsOf(loaded, splitRegistryText(loaded.text)),
    resources: c.gitMirror.resources,
    activeDeadlineSeconds: j.activeDeadlineSeconds,
    backoffLimit: j.backoffLimit,
    ttlSecondsAfterFinished: j.ttlSecondsAfterFinished,
  };
}
