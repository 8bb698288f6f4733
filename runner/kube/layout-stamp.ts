import type { ControllerConfig } from '../../core/config/schema.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import type { LayoutStamp } from '../carry-over.ts';
import { PASS_FIELD_MANAGER } from './state-store.ts';

const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');

/** The annotation on the old layout's Lease that says which layout the records are kept in. */
const LAYOUT_ANNOTATION = 'branch-follower.unidesk.dev/state-layout';

/** The registry's layout of the records, as stamped. */
export const stateLayout = (c: Pick<ControllerConfig, 'pass' | 'state'>): string =>
  `shards=${c.pass.shards},objects=${c.state.objects}`;

// The layout stamp as an annotation of the Lease `name`: written by compare-and-swap (the pass's
// own field manager; apply never sets it, so re-applying keeps it).
export function leaseLayoutStamp(client: KubeClient, namespace: string, name: string): LayoutStamp {
  const get = async () => {
    const lease = await client.get(LEASE, namespace, name);
    if (!lease)
      throw new BranchFollowerError(
        `Lease ${namespace}/${name} does not exist: run branch-follower apply --confirm --wait`,
        {
          reason: 'KubeNotFound',
          retryable: false,
        },
      );
    return lease;
  };
  return {
    read: async () => (await get()).metadata.annotations?.[LAYOUT_ANNOTATION],
    async write(layout) {
      for (let attempt = 0; ; attempt++) {
        const lease = await get();
        if (lease.metadata.annotations?.[LAYOUT_ANNOTATION] === layout) return;
        const annotations = { ...lease.metadata.annotations, [LAYOUT_ANNOTATION]: layout };
        try {
          await client.update({ ...lease, metadata: { ...lease.metadata, annotations } }, PASS_FIELD_MANAGER);
          return;
        } catch (err) {
          if (!(err instanceof BranchFollowerError && err.reason === 'KubeConflict') || attempt >= 2) throw err;
        }
      }
    },
  };
}
