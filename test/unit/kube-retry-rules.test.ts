import { describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.ts';
import {
  backoffMs,
  isTransient,
  nextWaitMs,
  parseHttpDate,
  retryAfterMs,
  retrying,
  type RetryPolicy,
  type TryResult,
} from '../../core/kube/retry.ts';

// The retry rules of a Kubernetes API request, on their own: which failures are retried, the wait
// before each retry, Retry-After, and where the budget stops it; then the loop on a fake clock.

const SHIPPED: RetryPolicy = { budgetMs: 30_000, initialBackoffMs: 200, maxBackoffMs: 5_000 };
const NOW = Date.parse('2026-03-01T12:00:00.000Z');

/** A clock that moves only when slept on, or when a try says how long it took. */
function fakeClock(start = NOW): Clock & { slept: number[]; advance(ms: number): void } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

describe('which failures are transient', () => {
  it('no answer at all (refused, reset, timed out) is transient', () => {
    expect(isTransient({ kind: 'unreachable' })).toBe(true);
  });

  it('429 and every 5xx are transient; every other status, 409 included, is not', () => {
    for (let status = 100; status <= 599; status++) {
      const expected = status === 429 || status >= 500;
      expect(isTransient({ kind: 'status', status }), `HTTP ${status}`).toBe(expected);
    }
    expect(isTransient({ kind: 'status', status: 409 })).toBe(false);
  });
});

describe('the wait before retry n', () => {
  it('doubles from initialBackoffMilliseconds and stops growing at maxBackoffMilliseconds', () => {
    const top = Array.from({ length: 12 }, (_, n) => backoffMs(SHIPPED, n, 0.999999));
    expect(top).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000, 5000, 5000]);
  });

  it('is jittered to between half and all of the capped wait', () => {
    for (let n = 0; n < 40; n++) {
      const capped = Math.min(5000, 200 * 2 ** n);
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        const w = backoffMs(SHIPPED, n, r);
        expect(w).toBeGreaterThanOrEqual(Math.floor(capped / 2));
        expect(w).toBeLessThanOrEqual(capped);
      }
      expect(backoffMs(SHIPPED, n, 0)).toBe(Math.round(capped / 2));
    }
  });

  it('grows with the random draw, so two clients that failed together spread out', () => {
    const draws = [0, 0.2, 0.4, 0.6, 0.8].map((r) => backoffMs(SHIPPED, 3, r));
    expect(new Set(draws).size).toBe(draws.length);
    expect([...draws].sort((a, b) => a - b)).toEqual(draws);
  });

  it('stays finite however many retries came before', () => {
    expect(backoffMs(SHIPPED, 5000, 0.5)).toBe(3750);
  });
});

describe('Retry-After', () => {
  it('delta-seconds ask for that many seconds', () => {
    expect(retryAfterMs('0', NOW)).toBe(0);
    expect(retryAfterMs('1', NOW)).toBe(1000);
    expect(retryAfterMs(' 7 ', NOW)).toBe(7000);
    expect(retryAfterMs('120', NOW)).toBe(120_000);
  });

  it('an HTTP-date asks for the time until then, in all three forms HTTP allows', () => {
    expect(retryAfterMs('Sun, 01 Mar 2026 12:00:03 GMT', NOW)).toBe(3000);
    expect(retryAfterMs('Sunday, 01-Mar-26 12:00:05 GMT', NOW)).toBe(5000);
    expect(retryAfterMs('Sun Mar  1 12:00:02 2026', NOW)).toBe(2000);
  });

  it('an HTTP-date already past asks for no wait', () => {
    expect(retryAfterMs('Sun, 01 Mar 2026 11:59:00 GMT', NOW)).toBe(0);
  });

  it('absent or malformed is ignored, never guessed at', () => {
    for (const bad of [
      undefined,
      '',
      'soon',
      '-1',
      '1.5',
      '1e3',
      'Sun, 01 Mar 2026 12:00:03',
      'Sun, 31 Feb 2026 12:00:03 GMT',
    ]) {
      expect(retryAfterMs(bad, NOW), String(bad)).toBeUndefined();
    }
  });

  it('reads a two-digit RFC 850 year as at most 50 years ahead', () => {
    expect(new Date(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)!).toISOString()).toBe(
      '1994-11-06T08:49:37.000Z',
    );
    expect(new Date(parseHttpDate('Friday, 06-Nov-76 08:49:37 GMT', NOW)!).toISOString()).toBe(
      '2076-11-06T08:49:37.000Z',
    );
    expect(new Date(parseHttpDate('Friday, 06-Nov-77 08:49:37 GMT', NOW)!).toISOString()).toBe(
      '1977-11-06T08:49:37.000Z',
    );
  });

  it("is waited at least, even when it is longer than the backoff's cap", () => {
    expect(nextWaitMs(SHIPPED, 0, 0, 8000, 0.5)).toBe(8000);
    expect(nextWaitMs(SHIPPED, 0, 0, 10, 0.5)).toBe(150);
  });
});

describe('the budget', () => {
  it('a retry whose wait would end past budgetSeconds is not made', () => {
    expect(nextWaitMs(SHIPPED, 5, 25_000, undefined, 0)).toBe(2500);
    expect(nextWaitMs(SHIPPED, 5, 27_500, undefined, 0)).toBe(2500);
    expect(nextWaitMs(SHIPPED, 5, 27_501, undefined, 0)).toBeUndefined();
    expect(nextWaitMs(SHIPPED, 0, 0, 30_001, 0)).toBeUndefined();
    expect(nextWaitMs(SHIPPED, 0, 31_000, undefined, 0)).toBeUndefined();
  });
});

describe('the retry loop (fake clock)', () => {
  const failing = (n: number, extra: Partial<TryResult<string>> = {}) => {
    let calls = 0;
    return {
      calls: () => calls,
      attempt: async (): Promise<TryResult<string>> => {
        calls++;
        return calls <= n ? { value: `fail ${calls}`, transient: true, ...extra } : { value: 'ok', transient: false };
      },
    };
  };

  it('a try that is not transient is the answer at once: no wait, no notice', async () => {
    const clock = fakeClock();
    const notices: unknown[] = [];
    const t = await retrying(
      SHIPPED,
      { clock, random: () => 0.5 },
      async () => ({ value: 'conflict', transient: false }),
      (n) => notices.push(n),
    );
    expect(t).toEqual({ value: 'conflict', tries: 1, elapsedMs: 0, exhausted: false });
    expect(clock.slept).toEqual([]);
    expect(notices).toEqual([]);
  });

  it('retries transient failures with the doubling waits, one notice per retry, until a try succeeds', async () => {
    const clock = fakeClock();
    const f = failing(3);
    const notices: { retry: number; waitMs: number; elapsedMs: number; value: string }[] = [];
    const t = await retrying(SHIPPED, { clock, random: () => 0.999999 }, f.attempt, (n) => notices.push(n));
    expect(t).toEqual({ value: 'ok', tries: 4, elapsedMs: 1400, exhausted: false });
    expect(clock.slept).toEqual([200, 400, 800]);
    expect(notices).toEqual([
      { value: 'fail 1', retry: 1, waitMs: 200, elapsedMs: 0 },
      { value: 'fail 2', retry: 2, waitMs: 400, elapsedMs: 200 },
      { value: 'fail 3', retry: 3, waitMs: 800, elapsedMs: 600 },
    ]);
  });

  it('waits what the server asked for when it asks for more than the backoff', async () => {
    const clock = fakeClock();
    const f = failing(2, { retryAfterMs: 1000 });
    await retrying(SHIPPED, { clock, random: () => 0 }, f.attempt, () => undefined);
    expect(clock.slept).toEqual([1000, 1000]);
  });

  it('stops when the next wait would pass the budget, counting the time the tries took', async () => {
    const clock = fakeClock();
    let calls = 0;
    const t = await retrying(
      SHIPPED,
      { clock, random: () => 0.999999 },
      async () => {
        calls++;
        clock.advance(2000); // each try takes 2 s to fail (e.g. a connect timeout)
        return { value: `fail ${calls}`, transient: true };
      },
      () => undefined,
    );
    // 2 +0.2 +2 +0.4 +2 +0.8 +2 +1.6 +2 +3.2 +2 +5 +2 = 25.2 s; the next 5 s wait would end at 30.2 s.
    expect(clock.slept).toEqual([200, 400, 800, 1600, 3200, 5000]);
    expect(t).toEqual({ value: 'fail 7', tries: 7, elapsedMs: 25_200, exhausted: true });
  });

  it('never outlives its budget by more than one try, whatever the draws', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      let x = seed;
      const random = () => {
        x = (x * 48271) % 0x7fffffff;
        return x / 0x7fffffff;
      };
      const clock = fakeClock();
      const tryMs = seed % 7;
      const t = await retrying(
        { budgetMs: 3000, initialBackoffMs: 50, maxBackoffMs: 800 },
        { clock, random },
        async () => {
          clock.advance(tryMs);
          return { value: 'down', transient: true };
        },
        () => undefined,
      );
      expect(t.exhausted).toBe(true);
      expect(clock.slept.reduce((a, b) => a + b, 0) + (t.tries - 1) * tryMs).toBeLessThanOrEqual(3000);
      expect(t.elapsedMs).toBeLessThanOrEqual(3000 + tryMs);
    }
  });

  it('a server that asks to wait past the budget ends the retries at once', async () => {
    const clock = fakeClock();
    const f = failing(5, { retryAfterMs: 60_000 });
    const t = await retrying(SHIPPED, { clock, random: () => 0 }, f.attempt, () => undefined);
    expect(t).toMatchObject({ value: 'fail 1', tries: 1, exhausted: true });
    expect(clock.slept).toEqual([]);
  });
});
