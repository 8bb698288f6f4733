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

/** One of the objects a shard's records are spread over, with its name for messages. */
export interface StatePart {
  readonly objects: StateObjects;
  readonly where: string;
}

// The state port on records spread over several objects (`controller.state.objects` per registry,
// the shard's share of them here): a follower's record lives in part `partOf(id)`. A read reads every
// part; a write compare-and-swaps only the parts it changes, each on what was read of it, after
// checking every part's size (a refused write writes nothing). If one part lost its compare-and-swap,
// the others may have landed: the write rejects with reason `KubeConflict`, and the caller's re-read
// shows which records did (the pass decides again only the ones that did not).
export function spreadStatePort(
  parts: readonly StatePart[],
  partOf: (id: string) => number,
  maxBytes: number,
): StatePort {
  if (parts.length === 1) return statePort(parts[0]!.objects, parts[0]!.where, maxBytes);
  type Read = { data: Readonly<Record<string, string>>; base: unknown };
  return {
    async read(): Promise<StateSnapshot> {
      const reads = await Promise.all(
        parts.map(async (p) => {
          const o = await p.objects.get();
          if (!o) throw stateError(`state ${p.where} does not exist: run branch-follower apply --confirm --wait`);
          return o;
        }),
      );
      const records = new Map<string, StateRecord>();
      const unreadable = new Map<string, string>();
      for (const o of reads) {
        const r = recordsOf(o.data);
        for (const [id, record] of r.records) records.set(id, record);
        for (const [id, why] of r.unreadable) unreadable.set(id, why);
      }
      return { records, unreadable, base: reads };
    },
    async write(snap, updates) {
      const reads = [...(snap.base as readonly Read[])];
      const byPart = new Map<number, Map<string, StateRecord | null>>();
      for (const [id, record] of updates) {
        const i = partOf(id);
        byPart.set(i, (byPart.get(i) ?? new Map()).set(id, record));
      }
      const next = [...byPart].map(([i, u]) => [i, nextData(reads[i]!.data, u, maxBytes, parts[i]!.where)] as const);
      const results = await Promise.allSettled(next.map(([i, data]) => parts[i]!.objects.put(reads[i]!.base, data)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      next.forEach(([i], n) => {
        reads[i] = (results[n] as PromiseFulfilledResult<Read>).value;
      });
      return { ...withUpdates(snap, updates), base: reads };
    },
  };
}
