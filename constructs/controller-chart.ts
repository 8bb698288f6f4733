import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ControllerCronJob, type ControllerCronJobProps } from './controller-cron-job.ts';
import { ControllerNamespace } from './controller-namespace.ts';
import { ControllerRbac } from './controller-rbac.ts';
import { ControllerServiceAccount } from './controller-service-account.ts';
import { RegistryConfigMap } from './registry-config-map.ts';
import type { ContainerResources, RunnerPodProps } from './runner-pod.ts';
import { StateConfigMap } from './state-config-map.ts';
import { StateLease } from './state-lease.ts';

/** Props of {@link ControllerChart}. Every value comes from the registry; none has a default. */
export interface ControllerChartProps {
  /**
   * The labels every object carries: `app.kubernetes.io/instance` (`controller.name`), `part-of` (`controller.partOf`),
   * `name` and `managed-by`.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** Namespace of every object (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the Role and RoleBinding (`controller.name`). */
  readonly name: string;
  /** The ServiceAccount the pass runs as (`controller.serviceAccount.name`). */
  readonly serviceAccountName: string;
  /** Name of the state ConfigMap (`controller.configMaps.state`). */
  readonly stateConfigMapName: string;
  /** The leader Lease (`controller.lease`). */
  readonly lease: {
    /** Its name (`controller.lease.name`). */
    readonly name: string;
    /** How long a holder keeps it without renewing (`controller.lease.durationSeconds`). */
    readonly durationSeconds: number;
  };
  /** The registry file, byte for byte, carried by the registry ConfigMap (named in `pod.registry`). */
  readonly registryText: string;
  /** The CronJob's name, schedule and budgets (`controller.cronJob`). */
  readonly cronJob: Pick<
    ControllerCronJobProps,
    | 'name'
    | 'schedule'
    | 'timeZone'
    | 'concurrencyPolicy'
    | 'suspend'
    | 'startingDeadlineSeconds'
    | 'activeDeadlineSeconds'
    | 'backoffLimit'
    | 'successfulJobsHistoryLimit'
    | 'failedJobsHistoryLimit'
  >;
  /** The pass's runner pod: image, source clone, registry overlay, clone resources, scratch, mirror cache, SSH keys. */
  readonly pod: RunnerPodProps;
  /** Resources of the pass container (`controller.resources.pass`). */
  readonly passResources: ContainerResources;
}

// The whole controller, composed from one construct per object; each takes the names of the others
// from the construct that owns them.
export class ControllerChart extends Chart {
  public readonly controllerNamespace: ControllerNamespace;
  public readonly cronJob: ControllerCronJob;
  public readonly rbac: ControllerRbac;

  constructor(scope: Construct, id: string, props: ControllerChartProps) {
    super(scope, id, { labels: { ...props.labels }, disableResourceNameHashes: true });
    const { namespace, pod } = props;

    this.controllerNamespace = new ControllerNamespace(this, 'Namespace', { name: namespace });
    const sa = new ControllerServiceAccount(this, 'ServiceAccount', { namespace, name: props.serviceAccountName });
    const state = new StateConfigMap(this, 'State', { namespace, name: props.stateConfigMapName });
    const lease = new StateLease(this, 'Lease', {
      namespace,
      name: props.lease.name,
      durationSeconds: props.lease.durationSeconds,
    });
    this.rbac = new ControllerRbac(this, 'Rbac', {
      namespace,
      name: props.name,
      serviceAccountName: sa.name,
      leaseName: lease.name,
      stateConfigMapName: state.name,
    });
    const registryMap = new RegistryConfigMap(this, 'Registry', {
      namespace,
      name: pod.registry.configMapName,
      key: pod.registry.key,
      content: props.registryText,
    });
    this.cronJob = new ControllerCronJob(this, 'CronJob', {
      ...props.cronJob,
      namespace,
      podLabels: { ...props.labels, 'app.kubernetes.io/component': 'reconcile-pass' },
      serviceAccountName: sa.name,
      image: pod.image,
      source: pod.source,
      registry: { configMapName: registryMap.name, key: registryMap.key, overlayPath: pod.registry.overlayPath },
      resources: { clone: pod.cloneResources, pass: props.passResources },
      scratch: pod.scratch,
      gitMirror: pod.gitMirror,
    });
  }
}
