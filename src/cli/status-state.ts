import type { dataBytes } from '../../runner/read.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { shardIndexes, shardLeaseName, stateObjectIndexes, stateObjectName } from '../../core/config/shards.ts';
import type { KubeObject } from '../../core/kube/client.ts';
import { resourceType, type ResourceType } from '../../core/kube/resources.ts';
import { keyPresence, type SecretView } from '../../core/kube/secret-keys.ts';

// The objects `status` reads, and what it makes of them: which ones (by type and name), and the
// controller's state assembled from them. Pure: `status` reads them once, `status --watch` keeps them
// up to date from a watch, and both show the same state.

const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');
const CONFIGMAP = resourceType('v1', 'ConfigMap');
const CRONJOB = resourceType('batch/v1', 'CronJob');

/** One object status reads. */
export interface WantedObject {
  readonly type: ResourceType;
  readonly name: string;
}

/** The CronJob, the state object of the layout before shards, every shard's Lease and every state object. */
export function wantedObjects(loaded: LoadedRegistry): WantedObject[] {
  const c = loaded.registry.controller;
  return [
    { type: CRONJOB, name: c.cronJob.name },
    { type: CONFIGMAP, name: c.configMaps.state },
    ...shardIndexes(c).map((k) => ({ type: LEASE, name: shardLeaseName(c, k) })),
    ...stateObjectIndexes(c).map((b) => ({ type: CONFIGMAP, name: stateObjectName(c, b) })),
  ];
}

/** The status words for one key: present, absent (why) or unknown (why); the value never reaches here. */
function presence(
  secret: SecretView,
  namespace: string,
  ref: { name: string; key: string },
  user: string,
): { presence: string; fingerprint: string | null } {
  const k = keyPresence(secret, { namespace, ...ref }, user);
  if (k.present) return { presence: 'present', fingerprint: k.fingerprint };
  return { presence: 'forbidden' in secret ? k.missing! : `absent (${k.missing})`, fingerprint: null };
}

type LeaseObject = KubeObject & {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
};

type CronJobObject = KubeObject & {
  spec: { schedule: string; timeZone?: string; suspend?: boolean };
  status?: { lastScheduleTime?: string; lastSuccessfulTime?: string; active?: unknown[] };
};

const leaseView = (ls: LeaseObject) => ({
  name: ls.metadata.name,
  holder: ls.spec?.holderIdentity ?? null,
  renewTime: ls.spec?.renewTime ?? null,
  durationSeconds: ls.spec?.leaseDurationSeconds ?? null,
});

const stateView = (state: KubeObject, bytesOf: typeof dataBytes) => {
  const data = (state.data as Record<string, string> | undefined) ?? {};
  return {
    name: state.metadata.name,
    created: state.metadata.creationTimestamp ?? null,
    records: Object.keys(data).length,
    bytes: bytesOf(data),
  };
};

/** What status read: the wanted objects in wantedObjects' order (undefined: not found) and the Secrets. */
export interface StatusRead {
  readonly objects: readonly (KubeObject | undefined)[];
  readonly secrets: ReadonlyMap<string, SecretView>;
  readonly user: string;
}

/** The controller's state as status shows it, from what it read. */
export function controllerState(loaded: LoadedRegistry, read: StatusRead, bytesOf: typeof dataBytes, now: number) {
  const c = loaded.registry.controller;
  const ns = c.namespace;
  const shards = shardIndexes(c);
  const [cronJob, old] = read.objects;
  const leases = read.objects.slice(2, 2 + shards.length);
  const states = read.objects.slice(2 + shards.length);
  const ssh = c.source.githubSsh;
  const identity = presence(read.secrets.get(ssh.identity.name)!, ns, ssh.identity, read.user);
  const knownHosts = presence(read.secrets.get(ssh.knownHosts.name)!, ns, ssh.knownHosts, read.user);
  const cj = cronJob as CronJobObject | undefined;
  // Every shard's records; a record still in the single object of the layout before shards (the
  // next pass carries it over) shows where its shard has none yet.
  const records: Record<string, string> = {};
  for (const [id, text] of Object.entries((old?.data as Record<string, string> | undefined) ?? {})) records[id] = text;
  for (const state of states) Object.assign(records, (state?.data as Record<string, string> | undefined) ?? {});
  return {
    cronJob: cj && {
      name: cj.metadata.name,
      schedule: cj.spec.schedule,
      timeZone: cj.spec.timeZone ?? null,
      suspend: cj.spec.suspend === true,
      lastSchedule: cj.status?.lastScheduleTime ?? null,
      lastSuccessful: cj.status?.lastSuccessfulTime ?? null,
      activeJobs: cj.status?.active?.length ?? 0,
    },
    leases: shards.map((k) => ({
      shard: k,
      name: shardLeaseName(c, k),
      lease: leases[k] && leaseView(leases[k] as LeaseObject),
    })),
    stateConfigMaps: stateObjectIndexes(c).map((b) => ({
      shard: b % c.pass.shards,
      name: stateObjectName(c, b),
      state: states[b] && stateView(states[b], bytesOf),
    })),
    oldStateConfigMap: old && stateView(old, bytesOf),
    githubSsh: {
      source: 'yaml',
      sourceRef: 'controller.source.githubSsh',
      transport: ssh.transport,
      proxyMode: ssh.proxy.mode,
      identity: { secret: ssh.identity.name, key: ssh.identity.key, ...identity },
      knownHosts: { secret: ssh.knownHosts.name, key: ssh.knownHosts.key, ...knownHosts },
    },
    records,
    now,
  };
}

export type ControllerState = ReturnType<typeof controllerState>;
