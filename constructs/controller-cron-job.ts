import { posix } from 'node:path';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import type { ResourcesConfig } from '../src/config/schema.ts';

/** The verb the pod runs: one confirmed reconcile pass over every follower, as the controller. */
export const PASS_ARGS = ['run-once', '--all', '--confirm', '--wait', '--controller'] as const;

/** Props of {@link ControllerCronJob}. Every value comes from the registry; none has a default. */
export interface ControllerCronJobProps {
  /** Namespace of the CronJob (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the CronJob (`controller.cronJob.name`). */
  readonly name: string;
  /** Labels for the Job and pod templates, so pods can be found and told apart. */
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
  /** Pod retries of one pass Job (`controller.cronJob.backoffLimit`). */
  readonly backoffLimit: number;
  /** Finished Jobs kept (`controller.cronJob.successfulJobsHistoryLimit`). */
  readonly successfulJobsHistoryLimit: number;
  /** Failed Jobs kept (`controller.cronJob.failedJobsHistoryLimit`). */
  readonly failedJobsHistoryLimit: number;
  /** The ServiceAccount the pass runs as (`controller.serviceAccount.name`). */
  readonly serviceAccountName: string;
  /** The runner image and its user (`controller.image`). */
  readonly image: {
    readonly ref: string;
    readonly pullPolicy: 'Always' | 'IfNotPresent' | 'Never';
    readonly appDir: string;
    readonly runAsUser: number;
    readonly runAsGroup: number;
  };
  /** Where the controller source is cloned from: the mirror URL and branch or tag (`controller.source.mirror`). */
  readonly source: { readonly url: string; readonly ref: string };
  /** The registry ConfigMap, its key, and the path inside the clone it is mounted over. */
  readonly registry: { readonly configMapName: string; readonly key: string; readonly overlayPath: string };
  /** Resources of the clone and pass containers (`controller.resources`). */
  readonly resources: { readonly clone: ResourcesConfig; readonly pass: ResourcesConfig };
  /** Size limits of the writable EmptyDirs (`controller.scratch`). */
  readonly scratch: { readonly checkoutSizeLimit: string; readonly tmpSizeLimit: string };
}

const q = (v: string) => k8s.Quantity.fromString(v);
const toResources = (r: ResourcesConfig): k8s.ResourceRequirements => ({
  requests: { cpu: q(r.requests.cpu), memory: q(r.requests.memory) },
  limits: { cpu: q(r.limits.cpu), memory: q(r.limits.memory) },
});

// Runs one reconcile pass per tick. The pod reads nothing from the host: an init container clones
// the controller source from the git mirror into an EmptyDir, the registry ConfigMap is mounted over
// the clone's registry file, and the pass runs under `restricted` Pod Security.
export class ControllerCronJob extends Construct {
  /** Where the source is cloned to inside the pod. */
  public readonly checkoutDir: string;
  /** The pass container's argv. */
  public readonly passCommand: readonly string[];

  constructor(scope: Construct, id: string, props: ControllerCronJobProps) {
    super(scope, id);
    const overlay = posix.normalize(props.registry.overlayPath);
    if (posix.isAbsolute(overlay) || overlay.startsWith('..')) {
      throw new Error(`registry.overlayPath must be a path inside the checkout, got "${props.registry.overlayPath}"`);
    }
    this.checkoutDir = posix.join(props.image.appDir, 'checkout');
    this.passCommand = ['node', 'src/cli/main.ts', ...PASS_ARGS];

    const containerSecurity: k8s.SecurityContext = {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    };
    // git and node want a writable HOME; /tmp is an EmptyDir, the root filesystem stays read-only.
    const env: k8s.EnvVar[] = [
      { name: 'HOME', value: '/tmp' },
      { name: 'GIT_TERMINAL_PROMPT', value: '0' },
    ];
    const checkoutMount = { name: 'checkout', mountPath: this.checkoutDir };
    const tmpMount = { name: 'tmp', mountPath: '/tmp' };

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
            backoffLimit: props.backoffLimit,
            template: {
              metadata: { labels: { ...props.podLabels } },
              spec: {
                serviceAccountName: props.serviceAccountName,
                automountServiceAccountToken: true,
                restartPolicy: 'Never',
                enableServiceLinks: false,
                hostNetwork: false,
                hostPid: false,
                hostIpc: false,
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: props.image.runAsUser,
                  runAsGroup: props.image.runAsGroup,
                  fsGroup: props.image.runAsGroup,
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                initContainers: [
                  {
                    name: 'clone-source',
                    image: props.image.ref,
                    imagePullPolicy: props.image.pullPolicy,
                    command: ['git', 'clone', '--depth', '1', '--single-branch', '--branch', props.source.ref, '--', props.source.url, this.checkoutDir],
                    env,
                    resources: toResources(props.resources.clone),
                    securityContext: containerSecurity,
                    volumeMounts: [checkoutMount, tmpMount],
                  },
                ],
                containers: [
                  {
                    name: 'reconcile-pass',
                    image: props.image.ref,
                    imagePullPolicy: props.image.pullPolicy,
                    workingDir: this.checkoutDir,
                    command: [...this.passCommand],
                    env,
                    resources: toResources(props.resources.pass),
                    securityContext: containerSecurity,
                    volumeMounts: [
                      checkoutMount,
                      tmpMount,
                      {
                        name: 'registry',
                        mountPath: posix.join(this.checkoutDir, overlay),
                        subPath: props.registry.key,
                        readOnly: true,
                      },
                    ],
                  },
                ],
                volumes: [
                  { name: 'checkout', emptyDir: { sizeLimit: q(props.scratch.checkoutSizeLimit) } },
                  { name: 'tmp', emptyDir: { sizeLimit: q(props.scratch.tmpSizeLimit) } },
                  { name: 'registry', configMap: { name: props.registry.configMapName, items: [{ key: props.registry.key, path: props.registry.key }] } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
