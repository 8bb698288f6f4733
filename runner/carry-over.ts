import type { Clock } from '../core/clock.ts';
import { BranchFollowerError } from '../core/errors.ts';
import type { CarryOverPort, LeasePort } from './ports.ts';
import { dataBytes, recordsOf, type StatePart } from './state-data.ts';
import type { StateRecord } from './state-record.ts';

// The upgrade from one state ConfigMap for every follower (`controller.configMaps.state`, the layout
// before shards) to records spread over the state objects of the shards (`<configMaps.state>-b`). The records move over exactly as they are
// stored — every remembered triggered sha with them, and a record that cannot be parsed byte for byte
// — so exactly-once holds across the upgrade:
//   - it runs under the old layout's Lease (`controller.lease.name`), which every pass of the old
//     version holds while it acts, so no old pass acts while the records move;
//   - every shard's pass runs it before it reads its own state, and no shard acts while the old
//     object exists, so nothing has written a carried follower's record in its shard yet: the old
//     record wins (a carry-over that stopped half-way is simply done again);
//   - the old object is deleted last, with its resourceVersion as precondition: a pass of the old
//     version that starts later finds no state and stops without acting.
// The layout the records are then in (shards and objects) is stamped on that Lease; a pass whose
// registry names another layout does not act (its followers would be looked for in other objects
// and taken for never observed). Changing the layout goes through the same carry-over: the records
// gathered into the old single object are spread over the new layout's objects by the next pass.

/**
 * Which layout (`shards=S,objects=N`) the records are kept in, stamped where every shard looks (the old layout's
 * Lease): a pass whose registry says otherwise would look for moved followers in the wrong objects.
 */
export interface LayoutStamp {
  read(): Promise<string | undefined>;
  write(layout: string): Promise<void>;
}

/** The old single object: read it, and delete exactly the version read. */
export interface OldStateObject {
  get(): Promise<{ data: Readonly<Record<string, string>>; base: unknown } | undefined>;
  /** Deletes the version read as `base`; rejects with reason `KubeConflict` when it changed since. */
  delete(base: unknown): Promise<void>;
}

export interface CarryOverParts {
  readonly old: OldStateObject;
  /** `ConfigMap ns/name` of the old object, for messages. */
  readonly oldWhere: string;
  /** The old layout's Lease, the lock of the carry-over. */
  readonly lock: LeasePort;
  readonly lockDurationMs: number;
  /** Every state object of the new layout, by index, with its name for messages. */
  readonly parts: readonly StatePart[];
  /** The state object a follower id's record belongs in. */
  readonly partOf: (id: string) => number;
  readonly maxBytes: number;
  /** This registry's layout, and the stamp of the layout the records are in. */
  readonly layout: string;
  readonly stamp: LayoutStamp;
  /** How often a write that lost a compare-and-swap is tried again. */
  readonly conflictRetries: number;
  readonly clock: Clock;
}

const isConflict = (err: unknown) => err instanceof BranchFollowerError && err.reason === 'KubeConflict';

function carryError(message: string, retryable: boolean): BranchFollowerError {
  return new BranchFollowerError(message, { reason: 'KubeFailed', retryable });
}

export function carryOverPort(p: CarryOverParts): CarryOverPort {
  // Moves the old object's keys into their shards' objects; returns how many keys moved.
  async function move(old: { data: Readonly<Record<string, string>>; base: unknown }, deadline: number) {
    const byShard = new Map<number, Record<string, string>>();
    for (const [id, text] of Object.entries(old.data)) {
      const k = p.partOf(id);
      byShard.set(k, { ...byShard.get(k), [id]: text });
    }
    for (const [k, moved] of byShard) {
      const shard = p.parts[k]!;
      for (let conflict = 0; ; conflict++) {
        if (p.clock.now() > deadline)
          throw carryError(`carrying the state over from ${p.oldWhere} took longer than its Lease: try again`, true);
        const o = await shard.objects.get();
        if (!o)
          throw carryError(`state ${shard.where} does not exist: run branch-follower apply --confirm --wait`, false);
        const next = { ...o.data, ...moved };
        const bytes = dataBytes(next);
        if (bytes > p.maxBytes) {
          throw carryError(
            `refusing to carry ${Object.keys(moved).length} record(s) from ${p.oldWhere} into ${shard.where}: ` +
              `${bytes} bytes, over controller.state.maxBytes (${p.maxBytes}); raise controller.state.objects`,
            false,
          );
        }
        try {
          await shard.objects.put(o.base, next);
          break;
        } catch (err) {
          if (!isConflict(err) || conflict >= p.conflictRetries) throw err;
        }
      }
    }
    return Object.keys(old.data).length;
  }

  return {
    async peek() {
      const old = await p.old.get();
      if (!old) return undefined;
      return recordsOf(old.data).records as ReadonlyMap<string, StateRecord>;
    },
    async carry(identity) {
      if (!(await p.old.get())) {
        // No old object: the records are where this layout says, unless the layout changed since.
        const stamped = await p.stamp.read();
        if (stamped === p.layout) return { none: true };
        if (stamped === undefined) {
          await p.stamp.write(p.layout);
          return { none: true };
        }
        return { layoutChanged: { from: stamped, to: p.layout } };
      }
      const takenAt = p.clock.now();
      const got = await p.lock.acquire(identity);
      if (!got.acquired) return { busy: { holder: got.holder, renewedAgoMs: got.renewedAgoMs } };
      try {
        // Read again under the lock: what an old pass wrote before it gave the Lease up moves too.
        for (let conflict = 0; ; conflict++) {
          const old = await p.old.get();
          if (!old) return { none: true };
          const moved = await move(old, takenAt + p.lockDurationMs / 2);
          try {
            await p.old.delete(old.base);
            await p.stamp.write(p.layout);
            return { carried: moved };
          } catch (err) {
            // Someone wrote the old object after it was read: carry that over too.
            if (!isConflict(err) || conflict >= p.conflictRetries) throw err;
          }
        }
      } finally {
        try {
          await p.lock.release(got.lease);
        } catch {
          // Not released: the next carry-over (or pass of the old layout) waits until it expires.
        }
      }
    },
  };
}
