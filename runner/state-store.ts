import { BranchFollowerError } from '../core/errors.ts';
import type { KubeClient, KubeObject } from '../core/kube/client.ts';
import { resourceType } from '../core/kube/resources.ts';
import { parseStateRecord, type StateRecord } from './state-record.ts';

/** The field manager of everything the pass writes (apply writes under `branch-follower`). */
export const PASS_FIELD_MANAGER = 'branch-follower-pass';

const CONFIGMAP = resourceType('v1', 'ConfigMap');

/** The state ConfigMap as read: its resourceVersion is what the next write compares against. */
export interface StateSnapshot {
  readonly object: KubeObject;
  readonly records: ReadonlyMap<string, StateRecord>;
  /** Keys whose value could not be read, with why (shown by status, never overwritten silently). */
  readonly unreadable: ReadonlyMap<string, string>;
}

function stateError(message: string, retryable = false): BranchFollowerError {
  return new BranchFollowerError(message, { reason: 'KubeFailed', retryable });
}

/** Reads the state ConfigMap; a missing one means the controller was never applied. */
export async function readState(client: KubeClient, namespace: string, name: string): Promise<StateSnapshot> {
  const object = await client.get(CONFIGMAP, namespace, name);
  if (!object) throw stateError(`state ConfigMap ${namespace}/${name} does not exist: run branch-follower apply --confirm --wait`);
  const records = new Map<string, StateRecord>();
  const unreadable = new Map<string, string>();
  for (const [key, text] of Object.entries((object.data as Record<string, string> | undefined) ?? {})) {
    const parsed = parseStateRecord(text);
    if ('record' in parsed) records.set(key, parsed.record);
    else unreadable.set(key, parsed.error);
  }
  return { object, records, unreadable };
}

/** Bytes the ConfigMap's data would take, as the API server counts them (keys and values). */
export function dataBytes(data: Readonly<Record<string, string>>): number {
  return Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

// Writes records with a compare-and-swap on the resourceVersion read: if anyone wrote in between,
// the API server answers 409 and the KubeError (reason KubeConflict) tells the caller to re-read
// and decide again. `null` removes a record. A write that would pass maxBytes is refused.
export async function writeState(client: KubeClient, snap: StateSnapshot, updates: ReadonlyMap<string, StateRecord | null>, maxBytes: number): Promise<StateSnapshot> {
  const data: Record<string, string> = { ...((snap.object.data as Record<string, string> | undefined) ?? {}) };
  for (const [id, record] of updates) {
    if (record === null) delete data[id];
    else data[id] = JSON.stringify(record);
  }
  const bytes = dataBytes(data);
  if (bytes > maxBytes) {
    throw stateError(`refusing to write ${bytes} bytes of state to ConfigMap ${snap.object.metadata.namespace}/${snap.object.metadata.name}: over controller.state.maxBytes (${maxBytes}); lower controller.state.historyLimit or remove stale records with cleanup-state`);
  }
  const object = await client.update({ ...snap.object, data }, PASS_FIELD_MANAGER);
  const records = new Map(snap.records);
  for (const [id, record] of updates) {
    if (record === null) records.delete(id);
    else records.set(id, record);
  }
  return { object, records, unreadable: snap.unreadable };
}
