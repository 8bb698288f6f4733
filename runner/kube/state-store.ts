import type { KubeClient, KubeObject } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import type { StatePort } from '../ports.ts';
import { statePort } from '../state-data.ts';

/** The field manager of everything the pass writes (apply writes under `branch-follower`). */
export const PASS_FIELD_MANAGER = 'branch-follower-pass';

const CONFIGMAP = resourceType('v1', 'ConfigMap');

const view = (object: KubeObject) => ({
  data: (object.data as Record<string, string> | undefined) ?? {},
  base: object as unknown,
});

// The state port on the state ConfigMap: a write PUTs the object read back with its
// resourceVersion, so the API server answers 409 (reason KubeConflict) if anyone wrote in between.
export function configMapState(client: KubeClient, namespace: string, name: string, maxBytes: number): StatePort {
  return statePort(
    {
      async get() {
        const object = await client.get(CONFIGMAP, namespace, name);
        return object && view(object);
      },
      put: async (base, data) => view(await client.update({ ...(base as KubeObject), data }, PASS_FIELD_MANAGER)),
    },
    `ConfigMap ${namespace}/${name}`,
    maxBytes,
  );
}
