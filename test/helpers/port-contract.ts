import { describe, expect, it } from 'vitest';
import { BranchFollowerError } from '../../core/errors.ts';
import type { OldStateObject } from '../../runner/carry-over.ts';
import type { EventPort, LeasePort, StatePort } from '../../runner/ports.ts';
import { emptyRecord, type StateRecord, type Transition } from '../../runner/state-record.ts';

// One contract for the state, Lease and Event ports, run against the Kubernetes implementations on
// the real API server (test/integration/kube-ports.contract.test.ts) and against the in-memory ones
// (test/unit/memory-ports.contract.test.ts): the simulation and the benchmark run on the in-memory
// ports, so they must behave as the cluster does.

/** One fresh store of each kind, as an implementation provides it. */
export interface PortSubject {
  /** The state port on an existing, empty state store. */
  state(maxBytes: number): StatePort;
  /** The state port on a store that does not exist. */
  missingState(): StatePort;
  /** The Lease port on an existing, free Lease of 15 s, on the given clock. */
  lease(now: () => number): LeasePort;
  missingLease(now: () => number): LeasePort;
  events(): EventPort;
  /** Another writer (kubectl, another tool) sets one raw key of the state. */
  writeRaw(key: string, value: string): Promise<void>;
  /**
   * The single state object of the layout before shards, holding `data`; `writeOld` is another writer changing it and
   * `oldExists` says whether it is still there.
   */
  oldState(data: Record<string, string>): Promise<{
    old: OldStateObject;
    writeOld(key: string, value: string): Promise<void>;
    oldExists(): Promise<boolean>;
  }>;
  /** The Events created for a follower (in any order). */
  emitted(followerId: string): Promise<{ action: string; reason: string; type: string; note: string }[]>;
}

const T = Date.parse('2026-01-01T00:00:00.000Z');
const SHA = 'a'.repeat(40);

function record(phase: StateRecord['phase'], at = T): StateRecord {
  return { ...emptyRecord(new Date(at).toISOString()), observedSha: SHA, phase };
}

async function rejection(p: Promise<unknown>): Promise<BranchFollowerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BranchFollowerError);
  return err as BranchFollowerError;
}

export function portContract(name: string, make: () => Promise<PortSubject>): void {
  describe(`${name}: the old single state object`, () => {
    it('reads its data as stored, and deletes exactly the version read', async () => {
      const o = await (await make()).oldState({ a: '{"x":1}', b: 'not json' });
      const read = await o.old.get();
      expect(read?.data).toEqual({ a: '{"x":1}', b: 'not json' });
      await o.old.delete(read!.base);
      expect(await o.oldExists()).toBe(false);
      expect(await o.old.get()).toBeUndefined();
      // Deleting what is gone already is not an error (a retried delete whose answer was lost).
      await o.old.delete(read!.base);
    });

    it('refuses to delete a version another writer changed since it was read (KubeConflict)', async () => {
      const o = await (await make()).oldState({ a: '1' });
      const read = await o.old.get();
      await o.writeOld('b', '2');
      const err = await rejection(o.old.delete(read!.base));
      expect(err.reason).toBe('KubeConflict');
      expect(await o.oldExists()).toBe(true);
      expect((await o.old.get())?.data).toEqual({ a: '1', b: '2' });
    });
  });

  describe(`${name}: the state port`, () => {
    it('reads back what it wrote, removes a record written as null, and keeps other records', async () => {
      const s = (await make()).state(100_000);
      let snap = await s.read();
      expect(snap.records.size).toBe(0);
      snap = await s.write(
        snap,
        new Map([
          ['a', record('Observed')],
          ['b', record('Noop')],
        ]),
      );
      snap = await s.write(snap, new Map([['a', null]]));
      const again = await s.read();
      expect([...again.records.keys()]).toEqual(['b']);
      expect(again.records.get('b')).toEqual(record('Noop'));
      expect([...snap.records.keys()]).toEqual(['b']);
    });

    it(
      'is a compare-and-swap: of two writers that read the same state, the second loses with KubeConflict and ' +
        'writes nothing',
      async () => {
        const s = (await make()).state(100_000);
        const one = await s.read();
        const two = await s.read();
        await s.write(one, new Map([['a', record('Observed')]]));
        const err = await rejection(s.write(two, new Map([['a', record('Failed')]])));
        expect(err.reason).toBe('KubeConflict');
        expect((await s.read()).records.get('a')?.phase).toBe('Observed');
      },
    );

    it('loses to a write of anyone else in between, too', async () => {
      const subject = await make();
      const s = subject.state(100_000);
      const snap = await s.read();
      await subject.writeRaw('other', JSON.stringify(record('Noop')));
      expect((await rejection(s.write(snap, new Map([['a', record('Observed')]])))).reason).toBe('KubeConflict');
    });

    it('reports a record it cannot read as unreadable, with why, and never as a record', async () => {
      const subject = await make();
      await subject.writeRaw('broken', '{not json');
      const snap = await subject.state(100_000).read();
      expect(snap.records.has('broken')).toBe(false);
      expect(snap.unreadable.get('broken')).toBe('not JSON');
    });

    it('refuses a write over maxBytes, naming controller.state.maxBytes, and writes nothing', async () => {
      const s = (await make()).state(600);
      const snap = await s.read();
      const big = { ...record('Observed'), message: 'x'.repeat(700) };
      const err = await rejection(s.write(snap, new Map([['a', big]])));
      expect(err.reason).toBe('KubeFailed');
      expect(err.message).toContain('controller.state.maxBytes (600)');
      expect((await s.read()).records.size).toBe(0);
    });

    it('says a missing store must be applied first', async () => {
      const err = await rejection((await make()).missingState().read());
      expect(err.message).toContain('does not exist: run branch-follower apply --confirm --wait');
    });
  });

  describe(`${name}: the Lease port`, () => {
    it('is held by one identity at a time: another is told who holds it and since when', async () => {
      let now = T;
      const subject = await make();
      const lease = subject.lease(() => now);
      const a = await lease.acquire('pass-a');
      expect(a.acquired).toBe(true);
      now += 4_000;
      const b = await lease.acquire('pass-b');
      expect(b).toEqual({ acquired: false, holder: 'pass-a', renewedAgoMs: 4_000 });
    });

    it('is free again once released', async () => {
      const lease = (await make()).lease(() => T);
      const a = await lease.acquire('pass-a');
      if (!a.acquired) throw new Error('not acquired');
      await lease.release(a.lease);
      expect((await lease.acquire('pass-b')).acquired).toBe(true);
    });

    it('expires after its duration: another pass takes it, and the old holder can no longer renew it', async () => {
      let now = T;
      const lease = (await make()).lease(() => now);
      const a = await lease.acquire('pass-a');
      if (!a.acquired) throw new Error('not acquired');
      now += 10_000;
      const renewed = await lease.renew(a.lease);
      now += 16_000;
      expect((await lease.acquire('pass-b')).acquired).toBe(true);
      expect((await rejection(lease.renew(renewed))).reason).toBe('KubeConflict');
    });

    it('of two passes racing for it, exactly one wins', async () => {
      const lease = (await make()).lease(() => T);
      const results = await Promise.all([lease.acquire('pass-a'), lease.acquire('pass-b')]);
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
    });

    it('says a missing Lease must be applied first', async () => {
      const err = await rejection((await make()).missingLease(() => T).acquire('pass-a'));
      expect(err.message).toContain('does not exist: run branch-follower apply --confirm --wait');
    });
  });

  describe(`${name}: the Event port`, () => {
    it('creates one Event per transition, Warning for Failed and Superseded', async () => {
      const subject = await make();
      const t = (to: Transition['to'], reason: string, detail = ''): Transition => ({
        at: new Date(T).toISOString(),
        from: 'ClosingOut',
        to,
        sha: SHA,
        reason,
        detail,
      });
      await subject
        .events()
        .emit(
          'follower-a',
          [t('Superseded', 'BranchAdvanced', `superseded by ${'b'.repeat(40)}`), t('Succeeded', 'ClosedOut')],
          'pass-a',
        );
      const byAction = (a: { action: string }, b: { action: string }) => a.action.localeCompare(b.action);
      expect((await subject.emitted('follower-a')).sort(byAction)).toEqual(
        [
          {
            action: 'Superseded',
            reason: 'BranchAdvanced',
            type: 'Warning',
            note: `follower-a: ClosingOut -> Superseded ${SHA.slice(0, 12)}: superseded by ${'b'.repeat(40)}`,
          },
          {
            action: 'Succeeded',
            reason: 'ClosedOut',
            type: 'Normal',
            note: `follower-a: ClosingOut -> Succeeded ${SHA.slice(0, 12)}`,
          },
        ].sort(byAction),
      );
    });
  });
}
