import type { Clock } from '../../core/clock.ts';
import type { ControllerConfig } from '../../core/config/schema.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import type { PassPorts } from '../ports.ts';
import { kubeEvents } from './events.ts';
import { kubeLease } from './lease.ts';
import { configMapState } from './state-store.ts';

/** The pass's cluster ports: the state ConfigMap, the Lease and Events of the declared controller. */
export function kubePorts(
  client: KubeClient,
  c: ControllerConfig,
  clock: Clock,
): Pick<PassPorts, 'state' | 'lease' | 'events'> {
  return {
    state: configMapState(client, c.namespace, c.configMaps.state, c.state.maxBytes),
    lease: kubeLease(client, c.namespace, c.lease.name, () => clock.now()),
    events: kubeEvents(client, c.namespace, c.configMaps.state),
  };
}
