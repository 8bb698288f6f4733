import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { CLI_IN_CHECKOUT, runnerPodSpec, type ContainerResources, type RunnerPodProps } from './runner-pod.ts';

/** The git-mirror stages a Job can run. */
export const GIT_MIRROR_STAGES = ['sync', 'flush', 'status'] as const;
export type GitMirrorStage = (typeof GIT_MIRROR_STAGES)[number];

/** Label saying which stage a Job (and its pod) runs. */
const STAGE_LABEL = 'branch-follower.unidesk.dev/git-mirror-stage';
/** The app.kubernetes.io/component of every stage Job. */
export const STAGE_COMPONENT = 'git-mirror-stage';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Props of {@link GitMirrorStageJob}. Every value comes from the registry or the operator's command line. */
export interface GitMirrorStageJobProps {
  /** Namespace of the Job (`controller.namespace`). */
  readonly namespace: string;
  /**
   * Job name, unique per run and a DNS-1123 label: `<controller.cronJob.name>-mirror-<stage>-<suffix>` (see {@link
   * stageJobName}).
   */
  readonly name: string;
  /**
   * Labels of the Job and its pod: the owner labels (`controller.name`, `controller.partOf`) plus the component; the
   * stage label is added.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** The stage the pod runs (the verb the operator ran). */
  readonly stage: GitMirrorStage;
  /** `--mirror <id>` as the operator gave it; absent: every mirror a follower uses. */
  readonly mirror: string | undefined;
  /** `--follower <id>` as the operator gave it (flush and status); absent: every follower of the mirrors. */
  readonly follower: string | undefined;
  /** The ServiceAccount the pod runs as (`controller.serviceAccount.name`); no token is mounted. */
  readonly serviceAccountName: string;
  /** The runner pod: image, source clone, registry overlay, mirror cache claim, SSH keys. */
  readonly pod: RunnerPodProps;
  /** Resources of the stage container (`controller.gitMirror.resources`). */
  readonly resources: ContainerResources;
  /** A stage still running after this is stopped (`controller.gitMirror.stageJob.activeDeadlineSeconds`). */
  readonly activeDeadlineSeconds: number;
  /** Pod retries (`controller.gitMirror.stageJob.backoffLimit`). */
  readonly backoffLimit: number;
  /** A finished Job is deleted after this (`controller.gitMirror.stageJob.ttlSecondsAfterFinished`). */
  readonly ttlSecondsAfterFinished: number;
}

/** The stage container's argv: the CLI's own `--local` stage against the mounted cache. */
function stageCommand(
  stage: GitMirrorStage,
  mountPath: string,
  only: { mirror: string | undefined; follower: string | undefined },
): string[] {
  return [
    'node',
    CLI_IN_CHECKOUT,
    'git-mirror',
    stage,
    '--local',
    '--mirror-dir',
    mountPath,
    // status only reads, so it takes no --confirm.
    ...(stage === 'status' ? [] : ['--confirm']),
    ...(only.mirror === undefined ? [] : ['--mirror', only.mirror]),
    ...(only.follower === undefined ? [] : ['--follower', only.follower]),
  ];
}

/** `<prefix>-mirror-<stage>-<suffix>`, the prefix shortened so the name stays a 63-character DNS label. */
export function stageJobName(prefix: string, stage: GitMirrorStage, suffix: string): string {
  const tail = `-mirror-${stage}-${suffix}`;
  return `${prefix.slice(0, Math.max(0, 63 - tail.length)).replace(/-+$/, '')}${tail}`;
}

// One run of one git-mirror stage as a Kubernetes Job, in the same runner pod as the pass: the stage
// container runs `git-mirror <stage> --local` against the mounted mirror cache claim with the mounted
// githubSsh keys. It needs no Kubernetes API, so no token is mounted; the proxy, if any, comes from
// the registry inside the transport, never from an environment variable.
export class GitMirrorStageJob extends Construct {
  /** The Job name. */
  public readonly name: string;
  /** The stage container's argv. */
  public readonly command: readonly string[];

  constructor(scope: Construct, id: string, props: GitMirrorStageJobProps) {
    super(scope, id);
    if (props.name.length > 63 || !DNS1123_LABEL.test(props.name)) {
      throw new Error(`name must be a DNS-1123 label of at most 63 characters, got "${props.name}"`);
    }
    if (props.stage === 'sync' && props.follower !== undefined) {
      throw new Error(`follower applies to flush and status only, got "${props.follower}" for sync`);
    }
    this.name = props.name;
    this.command = stageCommand(props.stage, props.pod.gitMirror.mountPath, props);
    const labels = { ...props.labels, [STAGE_LABEL]: props.stage };
    const pod = runnerPodSpec(props.pod, {
      name: `git-mirror-${props.stage}`,
      command: this.command,
      resources: props.resources,
      serviceAccountName: props.serviceAccountName,
      automountServiceAccountToken: false,
      env: [],
    });
    new k8s.KubeJob(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels },
      spec: {
        activeDeadlineSeconds: props.activeDeadlineSeconds,
        backoffLimit: props.backoffLimit,
        ttlSecondsAfterFinished: props.ttlSecondsAfterFinished,
        template: { metadata: { labels }, spec: pod },
      },
    });
  }
}
