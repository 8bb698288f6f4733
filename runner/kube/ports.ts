import type { Clock } from '../../core/clock.ts';
import type { ControllerConfig } from '../../core/config/schema.ts';
import { shardIndexes, shardLeaseName, shardOf, shardStateName } from '../../core/config/shards.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { carryOverPort } from '../carry-over.ts';
import type { PassPorts } from '../ports.ts';
import { kubeEvents } from './events.ts';
import { kubeLease } from './lease.ts';
import { configMapObjects, configMapState, oldConfigMapState } from './state-store.ts';

/**
 * The cluster ports of shard `shard`: its state ConfigMap, its Lease, Events about its state, and the carry-over from
 * the single state ConfigMap of the layout before shards.
 */
export function kubePorts(
  client: KubeClient,
  c: ControllerConfig,
  clock: Clock,
  shard: number,
): Pick<PassPorts, 'state' | 'lease' | 'events' | 'carryOver'> {
  const ns = c.namespace;
  return {
    state: configMapState(client, ns, shardStateName(c, shard), c.state.maxBytes),
    lease: kubeLease(client, ns, shardLeaseName(c, shard), () => clock.now()),
    events: kubeEvents(client, ns, shardStateName(c, shard)),
    carryOver: carryOverPort({
      old: oldConfigMapState(client, ns, c.configMaps.state),
      oldWhere: `ConfigMap ${ns}/${c.configMaps.state}`,
      lock: kubeLease(client, ns, c.lease.name, () => clock.now()),
      lockDurationMs: c.lease.durationSeconds * 1000,
      shards: shardIndexes(c).map((k) => ({
        objects: configMapObjects(client, ns, shardStateName(c, k)),
        where: `ConfigMap ${ns}/${shardStateName(c, k)}`,
      })),
      shardOf: (id) => shardOf(id, c.pass.shards),
      maxBytes: c.state.maxBytes,
      conflictRetries: c.pass.conflictRetries,
      clock,
    }),
  };
}
