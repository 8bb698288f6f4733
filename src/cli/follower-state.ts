import { configMapObjects, configMapState, recordsOf, type StatePort, type StateSnapshot } from '../../runner/index.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { stateObjectName, stateObjectOf } from '../../core/config/shards.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';

/** The state store (one state ConfigMap) that keeps follower `id`'s record. */
export function stateStoreOf(client: KubeClient, loaded: LoadedRegistry, id: string): StatePort {
  const c = loaded.registry.controller;
  return configMapState(client, c.namespace, stateObjectName(c, stateObjectOf(id, c.state.objects)), c.state.maxBytes);
}

/** The state ConfigMap a follower's record lives in, as `namespace/name`. */
export function stateNameOf(loaded: LoadedRegistry, id: string): string {
  const c = loaded.registry.controller;
  return `${c.namespace}/${stateObjectName(c, stateObjectOf(id, c.state.objects))}`;
}

/**
 * The state of one follower id (its shard's; a record still only in the single state ConfigMap of the layout before
 * shards counts, `old` says so): the id must be in the registry or have a (stale) record.
 */
export async function followerState(
  client: KubeClient,
  loaded: LoadedRegistry,
  id: string,
): Promise<{ snap: StateSnapshot; known: boolean; old: boolean }> {
  const c = loaded.registry.controller;
  let snap = await stateStoreOf(client, loaded, id).read();
  let old = false;
  if (!snap.records.has(id) && !snap.unreadable.has(id)) {
    // The old object may be gone (the usual case): only then is there nothing to look at.
    const raw = await configMapObjects(client, c.namespace, c.configMaps.state).get();
    const before = raw && { ...recordsOf(raw.data), base: raw };
    if (before && (before.records.has(id) || before.unreadable.has(id))) {
      snap = before;
      old = true;
    }
  }
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
  return { snap, known, old };
}
