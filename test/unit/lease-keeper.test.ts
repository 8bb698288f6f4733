import { describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../core/clock.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { LeaseSpec } from '../../runner/lease.ts';
import { LeaseKeeper, LeaseLost } from '../../runner/lease-keeper.ts';
import { memoryLease } from '../../runner/memory/lease.ts';
import { Versioned } from '../../runner/memory/versioned.ts';
import type { LeasePort } from '../../runner/ports.ts';

// The Lease keeper on the in-memory Lease (held to the cluster Lease's contract), on a clock the
// test moves by hand: background renewal, the check before acting, and losing the Lease.

const T0 = Date.parse('2026-12-01T00:00:00Z');
const OPTS = { durationMs: 60_000, renewMs: 20_000, what: 'Lease ns/leader', identity: 'pass-a' };

/** A clock that moves only when the test says so; sleeps wake in order of their wake-up time. */
class HandClock implements Clock {
  t = T0;
  private timers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.t + ms, wake: resolve };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((x) => x !== timer);
        resolve();
      });
    });
  }

  pending(): number {
    return this.timers.length;
  }

  /** Moves time on by `ms`, waking each sleep when its time comes and letting what it starts run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.wake();
    }
    this.t = end;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

function world(clock: HandClock) {
  const store = new Versioned<LeaseSpec>('Lease ns/leader', { leaseDurationSeconds: 60 });
  const port = (now: () => number = () => clock.now()) => memoryLease(store, 'Lease ns/leader', now);
  return { store, port };
}

async function kept(clock: HandClock, port: LeasePort) {
  const got = await port.acquire('pass-a');
  if (!got.acquired) throw new Error('not acquired');
  const keeper = new LeaseKeeper(port, clock, OPTS, got.lease, clock.now());
  keeper.start();
  return keeper;
}

describe('LeaseKeeper', () => {
  it('renews the Lease in the background every renewSeconds, so a long look keeps it', async () => {
    const clock = new HandClock();
    const { store, port } = world(clock);
    const keeper = await kept(clock, port());
    for (let i = 1; i <= 9; i++) {
      await clock.advance(20_000);
      expect(store.value!.renewTime).toBe(new Date(T0 + i * 20_000).toISOString().replace('Z', '000Z'));
    }
    // Three minutes later, well past the 60 s duration, another pass still finds it held.
    const other = await port().acquire('pass-b');
    expect(other).toMatchObject({ acquired: false, holder: 'pass-a' });
    await keeper.check(30_000);
    expect(await keeper.stop()).toBeDefined();
    expect(clock.pending()).toBe(0); // stop() ends the background wait: nothing keeps the process alive
  });

  it('check() renews first when what is left would not cover the step', async () => {
    const clock = new HandClock();
    const { store, port } = world(clock);
    const failing: LeasePort = {
      ...port(),
      renew: async () => {
        throw new BranchFollowerError('cannot reach the Kubernetes API: connection refused', {
          reason: 'KubeUnreachable',
          retryable: true,
        });
      },
    };
    const got = await failing.acquire('pass-a');
    const keeper = new LeaseKeeper(failing, clock, OPTS, got.acquired ? got.lease : (undefined as never), T0);
    keeper.start();
    await clock.advance(40_000); // two background renewals failed; 20 s of the Lease are left
    await keeper.check(20_000); // covered: no renewal needed
    const err = await keeper.check(30_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLost);
    expect((err as LeaseLost).takenBy).toBeUndefined();
    expect((err as LeaseLost).message).toBe(
      'Lease ns/leader cannot be kept: 20s of it are left and the next step needs 30s, but renewing it failed: ' +
        'cannot reach the Kubernetes API: connection refused',
    );
    expect(store.value!.renewTime).toBe(new Date(T0).toISOString().replace('Z', '000Z'));
    await keeper.stop();
  });

  it('check() renews at once when the Lease is short of the step, and then passes', async () => {
    const clock = new HandClock();
    const { store, port } = world(clock);
    const keeper = await kept(clock, port());
    clock.t = T0 + 45_000; // the background renewal never ran (a stalled process)
    await keeper.check(30_000);
    expect(store.value!.renewTime).toBe(new Date(T0 + 45_000).toISOString().replace('Z', '000Z'));
    await keeper.stop();
  });

  it('a Lease another pass took over is lost: check() says who, and stop() gives nothing back to release', async () => {
    const clock = new HandClock();
    const { store, port } = world(clock);
    const keeper = await kept(clock, port());
    // The Lease expired (this pass stalled), and pass-b took it.
    clock.t = T0 + 61_000;
    expect(await port().acquire('pass-b')).toMatchObject({ acquired: true });
    const err = await keeper.check(0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLost);
    expect((err as LeaseLost).takenBy).toEqual({ holder: 'pass-b', renewedAgoMs: 0 });
    expect((err as LeaseLost).message).toBe('Lease ns/leader was taken over by pass-b (renewed 0s ago)');
    expect(await keeper.stop()).toBeUndefined();
    expect(store.value!.holderIdentity).toBe('pass-b');
  });

  it('a write to the Lease that did not take it (its own lost answer, an annotation) is not a loss', async () => {
    const clock = new HandClock();
    const { store, port } = world(clock);
    const keeper = await kept(clock, port());
    const o = store.get()!;
    store.put(o.version, { ...o.value }); // same holder, new version: the keeper's next renewal conflicts
    await clock.advance(20_000);
    await keeper.check(50_000);
    expect(store.value!.holderIdentity).toBe('pass-a');
    expect(await keeper.stop()).toBeDefined();
  });

  it("the real clock's sleep ends at once when its signal aborts", async () => {
    const stop = new AbortController();
    const started = Date.now();
    const slept = realClock.sleep(60_000, stop.signal);
    stop.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(5_000);
    await realClock.sleep(1, stop.signal); // already aborted: resolves too
  });
});
