import { describe, expect, it } from 'vitest';
import { BranchFollowerError } from '../../core/errors.ts';
import { Versioned } from '../../runner/memory/versioned.ts';
import { spreadStatePort } from '../../runner/state-data.ts';
import { emptyRecord, type StateRecord } from '../../runner/state-record.ts';
import { memoryStateObjects } from '../../runner/memory/state.ts';

// A shard's records spread over several state objects: each record in its own object, a write
// touching only the objects it changes, a refusal writing nothing, a lost compare-and-swap of one
// object leaving the others' writes landed (the pass's re-read tells which).

const T = '2026-01-01T00:00:00.000Z';
const rec = (sha: string): StateRecord => ({ ...emptyRecord(T), observedSha: sha });
const partOf = (id: string) => Number(id.slice(1)) % 3;

function parts() {
  const stores = [0, 1, 2].map((i) => new Versioned<Record<string, string>>(`ConfigMap ns/state-${i}`, {}));
  const port = spreadStatePort(
    stores.map((s, i) => ({ objects: memoryStateObjects(s), where: `ConfigMap ns/state-${i}` })),
    partOf,
    2000,
  );
  return { stores, port };
}

describe('records spread over several state objects', () => {
  it('keeps each record in its own object and writes only the objects a write changes', async () => {
    const { stores, port } = parts();
    let snap = await port.read();
    snap = await port.write(
      snap,
      new Map([
        ['f0', rec('a'.repeat(40))],
        ['f4', rec('b'.repeat(40))],
      ]),
    );
    expect(Object.keys(stores[0]!.get()!.value)).toEqual(['f0']);
    expect(Object.keys(stores[1]!.get()!.value)).toEqual(['f4']);
    expect(stores.map((s) => s.version)).toEqual([1, 1, 0]);
    snap = await port.write(snap, new Map([['f3', rec('c'.repeat(40))]]));
    expect(stores.map((s) => s.version)).toEqual([2, 1, 0]);
    const again = await port.read();
    expect([...again.records.keys()].sort()).toEqual(['f0', 'f3', 'f4']);
    expect([...snap.records.keys()].sort()).toEqual(['f0', 'f3', 'f4']);
  });

  it('refuses a write that would make one object larger than maxBytes, and writes no object', async () => {
    const { stores, port } = parts();
    const big = { ...rec('a'.repeat(40)), message: 'x'.repeat(3000) };
    const err = await port
      .write(
        await port.read(),
        new Map([
          ['f1', rec('a'.repeat(40))],
          ['f0', big],
        ]),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(BranchFollowerError);
    expect((err as Error).message).toMatch(/to ConfigMap ns\/state-0: over controller\.state\.maxBytes \(2000\)/);
    expect(stores.map((s) => s.version)).toEqual([0, 0, 0]);
  });

  it('after one object lost its compare-and-swap, rejects (KubeConflict) while the other objects landed', async () => {
    const { stores, port } = parts();
    const snap = await port.read();
    stores[2]!.touch();
    const err = await port
      .write(
        snap,
        new Map([
          ['f1', rec('a'.repeat(40))],
          ['f2', rec('b'.repeat(40))],
        ]),
      )
      .catch((e) => e);
    expect((err as BranchFollowerError).reason).toBe('KubeConflict');
    const after = await port.read();
    expect([...after.records.keys()]).toEqual(['f1']);
  });
});
