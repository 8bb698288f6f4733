import type { KubeClient, KubeObject } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import type { OldStateObject } from '../carry-over.ts';
import type { StatePort } from '../ports.ts';
import { statePort, type StateObjects } from '../state-data.ts';

/** The field manager of everything the pass writes (apply writes under `branch-follower`). */
export const PASS_FIELD_MANAGER = 'branch-follower-pass';

const CONFIGMAP = resourceType('v1', 'ConfigMap');

const view = (object: KubeObject) => ({
  data: (object.data as Record<string, string> | undefined) ?? {},
  base: object as unknown,
});

// A state ConfigMap as state data: a write PUTs the object read back with its resourceVersion, so
// the API server answers 409 (reason KubeConflict) if anyone wrote in between.
export function configMapObjects(client: KubeClient, namespace: string, name: string): StateObjects {
  return {
    async get() {
      const object = await client.get(CONFIGMAP, namespace, name);
      return object && view(object);
    },
    put: async (base, data) => view(await client.update({ ...(base as KubeObject), data }, PASS_FIELD_MANAGER)),
  };
}

/** The state port on a state ConfigMap. */
export function configMapState(client: KubeClient, namespace: string, name: string, maxBytes: number): StatePort {
  return statePort(configMapObjects(client, namespace, name), `ConfigMap ${namespace}/${name}`, maxBytes);
}

/** The single state ConfigMap of the layout before shards: read it, delete exactly the version read. */
export function oldConfigMapState(client: KubeClient, namespace: string, name: string): OldStateObject {
  const objects = configMapObjects(client, namespace, name);
  return {
    get: () => objects.get(),
    async delete(base) {
      const { uid, resourceVersion } = (base as KubeObject).metadata;
      await client.delete(CONFIGMAP, namespace, name, { uid: uid!, resourceVersion: resourceVersion! });
    },
  };
}
