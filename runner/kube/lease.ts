import type { KubeClient, KubeObject } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { leasePort, type LeaseSpec } from '../lease.ts';
import type { LeasePort } from '../ports.ts';
import { PASS_FIELD_MANAGER } from './state-store.ts';

const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');

const view = (object: KubeObject) => ({ spec: (object.spec ?? {}) as LeaseSpec, base: object as unknown });

// The Lease port on the controller's Lease: every update carries the resourceVersion read, so the
// API server answers 409 (reason KubeConflict) to a writer that read before someone else wrote.
export function kubeLease(client: KubeClient, namespace: string, name: string, now: () => number): LeasePort {
  return leasePort(
    {
      async get() {
        const object = await client.get(LEASE, namespace, name);
        return object && view(object);
      },
      put: async (base, spec) => view(await client.update({ ...(base as KubeObject), spec }, PASS_FIELD_MANAGER)),
    },
    `Lease ${namespace}/${name}`,
    now,
  );
}
