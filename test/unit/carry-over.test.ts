import { describe, expect, it } from 'vitest';
import { shardOf } from '../../core/config/shards.ts';
import { carryOverPort } from '../../runner/carry-over.ts';
import type { LeaseSpec } from '../../runner/lease.ts';
import { memoryLease } from '../../runner/memory/lease.ts';
import { memoryOldState } from '../../runner/memory/old-state.ts';
import { Versioned } from '../../runner/memory/versioned.ts';
import { emptyRecord } from '../../runner/state-record.ts';
import { memoryStateObjects } from '../../runner/memory/state.ts';

// The carry-over from the single state object into the shards' objects, on the in-memory stores
// (held to the same contract as the ConfigMaps: test/helpers/port-contract.ts). The upgrade of a live
// namespace on the real API server is test/integration/upgrade.test.ts.

const T = Date.parse('2026-01-01T00:00:00.000Z');
const SHARDS = 3;
const ids = Array.from({ length: 12 }, (_, i) => `follower-${i}`);

function world(oldData: Record<string, string> | undefined, lockHolder?: string) {
  const old = new Versioned<Record<string, string>>('ConfigMap ns/state', oldData && { ...oldData });
  const lock = new Versioned<LeaseSpec>('Lease ns/leader', {
    leaseDurationSeconds: 60,
    ...(lockHolder ? { holderIdentity: lockHolder, renewTime: new Date(T).toISOString() } : {}),
  });
  const shards = Array.from({ length: SHARDS }, (_, k) => new Versioned<Record<string, string>>(`state-${k}`, {}));
  const clock = { now: () => T, sleep: async () => undefined };
  const stamp: { value: string | undefined } = { value: undefined };
  const port = carryOverPort({
    old: memoryOldState(old),
    oldWhere: 'ConfigMap ns/state',
    lock: memoryLease(lock, 'Lease ns/leader', clock.now),
    lockDurationMs: 60_000,
    parts: shards.map((s, k) => ({ objects: memoryStateObjects(s), where: `ConfigMap ns/state-${k}` })),
    partOf: (id) => shardOf(id, SHARDS),
    maxBytes: 10_000,
    layout: 'shards=3,objects=3',
    stamp: {
      read: async () => stamp.value,
      write: async (layout: string) => {
        stamp.value = layout;
      },
    },
    conflictRetries: 2,
    clock,
  });
  return { old, lock, shards, port, stamp };
}

const record = (i: number) =>
  JSON.stringify({ ...emptyRecord(new Date(T + i).toISOString()), triggered: ['a'.repeat(40)] });
const data = Object.fromEntries(ids.map((id, i) => [id, i === 3 ? 'not json {' : record(i)]));

describe('carrying the single state object over into the shards', () => {
  it('moves every key, byte for byte (an unreadable one too), into its shard, then deletes the old object', async () => {
    const w = world(data);
    expect(await w.port.carry('pass-a')).toEqual({ carried: ids.length });
    for (const [k, s] of w.shards.entries()) {
      const mine = ids.filter((id) => shardOf(id, SHARDS) === k);
      expect(s.get()!.value).toEqual(Object.fromEntries(mine.map((id) => [id, data[id]])));
    }
    expect(w.old.get()).toBeUndefined();
    expect(w.lock.get()!.value.holderIdentity).toBeUndefined();
    expect(w.stamp.value).toBe('shards=3,objects=3');
    expect(await w.port.carry('pass-b')).toEqual({ none: true });
  });

  it('keeps what a shard already holds for other followers', async () => {
    const w = world({ 'follower-0': '"old"' });
    const k = shardOf('follower-0', SHARDS);
    w.shards[k]!.put(0, { other: '"kept"' });
    await w.port.carry('pass-a');
    expect(w.shards[k]!.get()!.value).toEqual({ other: '"kept"', 'follower-0': '"old"' });
  });

  it('moves nothing while a pass of the old layout holds its Lease, and says who', async () => {
    const w = world(data, 'old-pass');
    expect(await w.port.carry('pass-a')).toEqual({ busy: { holder: 'old-pass', renewedAgoMs: 0 } });
    expect(w.old.get()!.value).toEqual(data);
    for (const s of w.shards) expect(s.get()!.value).toEqual({});
  });

  it('stamps the layout on a fresh namespace, and says so when the registry names another one later', async () => {
    const w = world(undefined);
    expect(await w.port.carry('pass-a')).toEqual({ none: true });
    expect(w.stamp.value).toBe('shards=3,objects=3');
    w.stamp.value = 'shards=1,objects=1';
    expect(await w.port.carry('pass-a')).toEqual({
      layoutChanged: { from: 'shards=1,objects=1', to: 'shards=3,objects=3' },
    });
  });

  it('does nothing where there is no old object; a dry run reads the old records without moving them', async () => {
    expect(await world(undefined).port.carry('pass-a')).toEqual({ none: true });
    const w = world(data);
    const peeked = await w.port.peek();
    expect([...peeked!.keys()].sort()).toEqual(ids.filter((id) => id !== 'follower-3').sort());
    expect(peeked!.get('follower-0')!.triggered).toEqual(['a'.repeat(40)]);
    expect(w.old.get()!.value).toEqual(data);
  });

  it('refuses, naming controller.state.objects, when a shard could not hold what moves into it; the old object stays', async () => {
    const big = Object.fromEntries(ids.map((id) => [id, JSON.stringify('x'.repeat(4000))]));
    const w = world(big);
    await expect(w.port.carry('pass-a')).rejects.toThrow(
      /over controller\.state\.maxBytes \(10000\); raise controller\.state\.objects/,
    );
    expect(w.old.get()!.value).toEqual(big);
  });

  it('carries over what an old pass wrote between the read and the delete', async () => {
    const w = world({ 'follower-0': '"a"' });
    const k = shardOf('follower-1', SHARDS);
    // Another writer changes the old object right after the carry-over's first write into a shard.
    const put = w.shards[shardOf('follower-0', SHARDS)]!.put.bind(w.shards[shardOf('follower-0', SHARDS)]);
    let once = true;
    w.shards[shardOf('follower-0', SHARDS)]!.put = (version, value) => {
      const r = put(version, value);
      if (once) {
        once = false;
        const o = w.old.get()!;
        w.old.put(o.version, { ...o.value, 'follower-1': '"b"' });
      }
      return r;
    };
    expect(await w.port.carry('pass-a')).toEqual({ carried: 2 });
    expect(w.shards[k]!.get()!.value['follower-1']).toBe('"b"');
    expect(w.old.get()).toBeUndefined();
  });
});
