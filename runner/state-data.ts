import { BranchFollowerError } from '../core/errors.ts';
import type { StatePort, StateSnapshot } from './ports.ts';
import { parseStateRecord, type StateRecord } from './state-record.ts';

// The state as every store keeps it: one data key per follower id, its record as JSON; and the
// state port on any such store, so the Kubernetes store and the in-memory one read, size, refuse
// and compare-and-swap exactly alike.

/** Bytes the data would take, as the API server counts a ConfigMap's (keys and values). */
export function dataBytes(data: Readonly<Record<string, string>>): number {
  return Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/** The records a data map holds, and the keys whose value cannot be read (with why). */
export function recordsOf(data: Readonly<Record<string, string>>): {
  records: Map<string, StateRecord>;
  unreadable: Map<string, string>;
} {
  const records = new Map<string, StateRecord>();
  const unreadable = new Map<string, string>();
  for (const [key, text] of Object.entries(data)) {
    const parsed = parseStateRecord(text);
    if ('record' in parsed) records.set(key, parsed.record);
    else unreadable.set(key, parsed.error);
  }
  return { records, unreadable };
}

/** A store error (never a Kubernetes one): the reason the CLI shows, and whether retrying helps. */
function stateError(message: string, retryable = false): BranchFollowerError {
  return new BranchFollowerError(message, { reason: 'KubeFailed', retryable });
}

// The data after `updates` (`null` removes a record), or a refusal when it would pass maxBytes.
// `where` names the store in the refusal, e.g. `ConfigMap ns/name`.
function nextData(
  data: Readonly<Record<string, string>>,
  updates: ReadonlyMap<string, StateRecord | null>,
  maxBytes: number,
  where: string,
): Record<string, string> {
  const next: Record<string, string> = { ...data };
  for (const [id, record] of updates) {
    if (record === null) delete next[id];
    else next[id] = JSON.stringify(record);
  }
  const bytes = dataBytes(next);
  if (bytes > maxBytes) {
    throw stateError(
      `refusing to write ${bytes} bytes of state to ${where}: over controller.state.maxBytes (${maxBytes}); lower ` +
        `controller.state.historyLimit or remove stale records with cleanup-state`,
    );
  }
  return next;
}

/** The records (and the unreadable keys) after a write that landed: a written key is readable again or gone. */
function withUpdates(
  snap: { readonly records: ReadonlyMap<string, StateRecord>; readonly unreadable: ReadonlyMap<string, string> },
  updates: ReadonlyMap<string, StateRecord | null>,
): { records: Map<string, StateRecord>; unreadable: Map<string, string> } {
  const records = new Map(snap.records);
  const unreadable = new Map(snap.unreadable);
  for (const [id, record] of updates) {
    unreadable.delete(id);
    if (record === null) records.delete(id);
    else records.set(id, record);
  }
  return { records, unreadable };
}

/** Where the state data is kept: read it, and write it by compare-and-swap on what was read. */
export interface StateObjects {
  /** The data and what the next put compares against, or undefined when the store does not exist. */
  get(): Promise<{ data: Readonly<Record<string, string>>; base: unknown } | undefined>;
  /** Writes `data` onto `base`; rejects with reason `KubeConflict` when anyone wrote since. */
  put(base: unknown, data: Record<string, string>): Promise<{ data: Readonly<Record<string, string>>; base: unknown }>;
}

// The state port on any store of state data: `where` names it in errors (e.g. `ConfigMap ns/name`).
export function statePort(objects: StateObjects, where: string, maxBytes: number): StatePort {
  return {
    async read(): Promise<StateSnapshot> {
      const o = await objects.get();
      if (!o) throw stateError(`state ${where} does not exist: run branch-follower apply --confirm --wait`);
      return { ...recordsOf(o.data), base: o };
    },
    async write(snap, updates) {
      const read = snap.base as { data: Readonly<Record<string, string>>; base: unknown };
      const written = await objects.put(read.base, nextData(read.data, updates, maxBytes, where));
      return { ...withUpdates(snap, updates), base: written };
    },
  };
}
