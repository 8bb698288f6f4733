import { configMapState, type StatePort, type StateSnapshot } from '../../runner/index.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';

/** The state store of the declared controller. */
export function stateStore(client: KubeClient, loaded: LoadedRegistry): StatePort {
  const c = loaded.registry.controller;
  return configMapState(client, c.namespace, c.configMaps.state, c.state.maxBytes);
}

/** The state of one follower id: it must be in the registry or have a (stale) record. */
export async function followerState(
  client: KubeClient,
  loaded: LoadedRegistry,
  id: string,
): Promise<{ snap: StateSnapshot; known: boolean }> {
  const snap = await stateStore(client, loaded).read();
  const known = loaded.registry.followers.some((f) => f.id === id);
  if (!known && !snap.records.has(id) && !snap.unreadable.has(id)) {
    throw new BranchFollowerError(
      `no follower "${id}" in ${loaded.file} and no record of it in the state (followers: ` +
        `${loaded.registry.followers.map((f) => f.id).join(', ')})`,
      {
        reason: 'InvalidUsage',
        retryable: false,
      },
    );
  }
  return { snap, known };
}
