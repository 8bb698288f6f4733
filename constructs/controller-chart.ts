import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { LoadedRegistry } from '../core/config/load.ts';
import { ControllerCronJob } from './controller-cron-job.ts';
import { ControllerNamespace } from './controller-namespace.ts';
import { ControllerRbac } from './controller-rbac.ts';
import { ControllerServiceAccount } from './controller-service-account.ts';
import { RegistryConfigMap } from './registry-config-map.ts';
import { StateConfigMap } from './state-config-map.ts';
import { StateLease } from './state-lease.ts';
import { ownerLabels } from './ownership.ts';
import { REGISTRY_PATH_IN_SOURCE, runnerPodPropsOf } from './runner-pod.ts';

// Still exported from here: it was declared in this module before the runner pod had its own.
export { REGISTRY_PATH_IN_SOURCE };

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
    const pod = runnerPodPropsOf(props.loaded);

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
      key: pod.registry.key,
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
      image: pod.image,
      source: pod.source,
      registry: { configMapName: registryMap.name, key: registryMap.key, overlayPath: pod.registry.overlayPath },
      resources: c.resources,
      scratch: pod.scratch,
      gitMirror: pod.gitMirror,
    });
  }
}
