import { basename } from 'node:path';
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { LoadedRegistry } from '../src/config/load.ts';
import { ControllerCronJob } from './controller-cron-job.ts';
import { ControllerNamespace } from './controller-namespace.ts';
import { ControllerRbac } from './controller-rbac.ts';
import { ControllerServiceAccount } from './controller-service-account.ts';
import { RegistryConfigMap } from './registry-config-map.ts';
import { StateConfigMap } from './state-config-map.ts';
import { StateLease } from './state-lease.ts';
import { ownerLabels } from './ownership.ts';

/** Where, inside the controller source, the spec keeps the registry; the mounted one replaces it. */
export const REGISTRY_PATH_IN_SOURCE = 'config/cicd-branch-followers.yaml';

/** Props of {@link ControllerChart}. */
export interface ControllerChartProps {
  /** The validated registry; every object is derived from it and nothing else. */
  readonly loaded: LoadedRegistry;
}

// The whole controller, composed from one construct per object, from one validated registry.
export class ControllerChart extends Chart {
  public readonly controllerNamespace: ControllerNamespace;
  public readonly cronJob: ControllerCronJob;
  public readonly rbac: ControllerRbac;

  constructor(scope: Construct, id: string, props: ControllerChartProps) {
    const labels = ownerLabels(props.loaded);
    super(scope, id, { labels, disableResourceNameHashes: true });
    const { registry } = props.loaded;
    const c = registry.controller;
    const namespace = c.namespace;
    const mirror = registry.mirrors.find((m) => m.id === c.source.mirror.mirror);
    if (!mirror) throw new Error(`controller.source.mirror.mirror "${c.source.mirror.mirror}" names no mirror`);

    this.controllerNamespace = new ControllerNamespace(this, 'Namespace', { name: namespace });
    const sa = new ControllerServiceAccount(this, 'ServiceAccount', { namespace, name: c.serviceAccount.name });
    const state = new StateConfigMap(this, 'State', { namespace, name: c.configMaps.state });
    const lease = new StateLease(this, 'Lease', { namespace, name: c.lease.name, durationSeconds: c.lease.durationSeconds });
    this.rbac = new ControllerRbac(this, 'Rbac', {
      namespace,
      name: c.name,
      serviceAccountName: sa.name,
      leaseName: lease.name,
      stateConfigMapName: state.name,
    });
    const registryMap = new RegistryConfigMap(this, 'Registry', {
      namespace,
      name: c.configMaps.registry,
      key: basename(REGISTRY_PATH_IN_SOURCE),
      content: props.loaded.text,
    });
    this.cronJob = new ControllerCronJob(this, 'CronJob', {
      namespace,
      name: c.cronJob.name,
      podLabels: { ...labels, 'app.kubernetes.io/component': 'reconcile-pass' },
      schedule: c.cronJob.schedule,
      timeZone: c.cronJob.timeZone,
      concurrencyPolicy: c.cronJob.concurrencyPolicy,
      suspend: c.cronJob.suspend,
      startingDeadlineSeconds: c.cronJob.startingDeadlineSeconds,
      activeDeadlineSeconds: c.cronJob.activeDeadlineSeconds,
      backoffLimit: c.cronJob.backoffLimit,
      successfulJobsHistoryLimit: c.cronJob.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: c.cronJob.failedJobsHistoryLimit,
      serviceAccountName: sa.name,
      image: c.image,
      source: { url: mirror.url, ref: c.source.mirror.ref },
      registry: { configMapName: registryMap.name, key: registryMap.key, overlayPath: REGISTRY_PATH_IN_SOURCE },
      resources: c.resources,
      scratch: c.scratch,
    });
  }
}
