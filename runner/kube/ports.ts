import type { Clock } from '../../core/clock.ts';
import type { ControllerConfig } from '../../core/config/schema.ts';
import {
  placeInShard,
  shardLeaseName,
  stateObjectIndexes,
  stateObjectName,
  stateObjectOf,
  stateObjectsOfShard,
} from '../../core/config/shards.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { carryOverPort } from '../carry-over.ts';
import { leaseLayoutStamp, stateLayout } from './layout-stamp.ts';
import type { PassPorts } from '../ports.ts';
import { kubeEvents } from './events.ts';
import { kubeLease } from './lease.ts';
import { spreadStatePort } from '../state-data.ts';
import { configMapObjects, oldConfigMapState } from './state-store.ts';

/**
 * The cluster ports of shard `shard`: its state ConfigMaps, its Lease, Events about its state, and the carry-over from
 * the single state ConfigMap of the layout before shards.
 */
export function kubePorts(
  client: KubeClient,
  c: ControllerConfig,
  clock: Clock,
  shard: number,
): Pick<PassPorts, 'state' | 'lease' | 'events' | 'carryOver'> {
  const ns = c.namespace;
  const part = (b: number) => ({
    objects: configMapObjects(client, ns, stateObjectName(c, b)),
    where: `ConfigMap ${ns}/${stateObjectName(c, b)}`,
  });
  const objectOf = (id: string) => stateObjectOf(id, c.state.objects);
  return {
    state: spreadStatePort(stateObjectsOfShard(c, shard).map(part), (id) => placeInShard(c, id), c.state.maxBytes),
    lease: kubeLease(client, ns, shardLeaseName(c, shard), () => clock.now()),
    events: kubeEvents(client, ns, (id) => stateObjectName(c, objectOf(id))),
    carryOver: carryOverPort({
      old: oldConfigMapState(client, ns, c.configMaps.state),
      oldWhere: `ConfigMap ${ns}/${c.configMaps.state}`,
      lock: kubeLease(client, ns, c.lease.name, () => clock.now()),
      lockDurationMs: c.lease.durationSeconds * 1000,
      parts: stateObjectIndexes(c).map(part),
      partOf: objectOf,
      maxBytes: c.state.maxBytes,
      layout: stateLayout(c),
      stamp: leaseLayoutStamp(client, ns, c.lease.name),
      conflictRetries: c.pass.conflictRetries,
      clock,
    }),
  };
}
