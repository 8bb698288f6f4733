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
  /** The state ConfigMaps (`controller.configMaps.state`, `controller.state.objects`). */
  readonly state: {
    /**
     * One per state object, in order (`<controller.configMaps.state>-<b>`, b < `controller.state.objects`); object b
     * belongs to shard b mod `controller.pass.shards`.
     */
    readonly objectNames: readonly string[];
    /** The single one of the layout before shards, carried over by the pass (`controller.configMaps.state`). */
    readonly carriedOverName: string;
  };
  /** The Leases (`controller.lease`, `controller.pass.shards`). */
  readonly lease: {
    /** The lock of the carry-over from the layout before shards (`controller.lease.name`). */
    readonly name: string;
    /** One per shard, in shard order (`<controller.lease.name>-<k>`). */
    readonly shardNames: readonly string[];
    /** How long a holder keeps one without renewing (`controller.lease.durationSeconds`). */
    readonly durationSeconds: number;
  };
  /**
   * The registry file cut into parts (constructs/registry-parts.ts), one per registry ConfigMap named in
   * `pod.registry.parts`, in order; one part is the whole file, byte for byte.
   */
  readonly registryParts: readonly string[];
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
    | 'shards'
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
  /** The registry ConfigMaps, in order: the whole file, or its parts. */
  public readonly registryConfigMapNames: readonly string[];

  constructor(scope: Construct, id: string, props: ControllerChartProps) {
    super(scope, id, { labels: { ...props.labels }, disableResourceNameHashes: true });
    const { namespace, pod } = props;

    this.controllerNamespace = new ControllerNamespace(this, 'Namespace', { name: namespace });
    const sa = new ControllerServiceAccount(this, 'ServiceAccount', { namespace, name: props.serviceAccountName });
    const states = props.state.objectNames.map((name, k) => new StateConfigMap(this, `State${k}`, { namespace, name }));
    const durationSeconds = props.lease.durationSeconds;
    const lock = new StateLease(this, 'Lease', { namespace, name: props.lease.name, durationSeconds });
    const leases = props.lease.shardNames.map(
      (name, k) => new StateLease(this, `Lease${k}`, { namespace, name, durationSeconds }),
    );
    if (leases.length !== props.cronJob.shards || states.length % props.cronJob.shards !== 0)
      throw new Error(
        `${props.cronJob.shards} shards need as many Leases and a multiple of it in state ConfigMaps, got ` +
          `${leases.length} and ${states.length}`,
      );
    this.rbac = new ControllerRbac(this, 'Rbac', {
      namespace,
      name: props.name,
      serviceAccountName: sa.name,
      leaseNames: [lock.name, ...leases.map((l) => l.name)],
      stateConfigMapNames: states.map((st) => st.name),
      carriedOverStateConfigMapName: props.state.carriedOverName,
    });
    // The pod names the same ConfigMaps in the same order: both come from registryPartRefs.
    const refs = pod.registry.parts;
    if (refs.length !== props.registryParts.length)
      throw new Error(
        `the pod names ${refs.length} registry ConfigMaps, the registry has ${props.registryParts.length} parts`,
      );
    const registryMaps = props.registryParts.map(
      (content, k) =>
        new RegistryConfigMap(this, refs.length === 1 ? 'Registry' : `Registry${k}`, {
          namespace,
          name: refs[k]!.configMapName,
          key: refs[k]!.key,
          content,
        }),
    );
    this.registryConfigMapNames = registryMaps.map((m) => m.name);
    this.cronJob = new ControllerCronJob(this, 'CronJob', {
      ...props.cronJob,
      namespace,
      podLabels: { ...props.labels, 'app.kubernetes.io/component': 'reconcile-pass' },
      serviceAccountName: sa.name,
      image: pod.image,
      source: pod.source,
      registry: {
        parts: registryMaps.map((m) => ({ configMapName: m.name, key: m.key })),
        sha256: pod.registry.sha256,
        overlayPath: pod.registry.overlayPath,
      },
      resources: { clone: pod.cloneResources, pass: props.passResources },
      scratch: pod.scratch,
      gitMirror: pod.gitMirror,
    });
  }
}
