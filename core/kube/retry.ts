import type { Clock } from '../clock.ts';

// The retry rules of a Kubernetes API request, pure, and the one loop that applies them: which
// failures may heal by themselves (the server unreachable or not answering, 429, 5xx — never a 409
// or another 4xx: the same request would get the same answer), how long to wait before the next try
// (doubling, capped, jittered; never sooner than the server's Retry-After), and when to stop (the
// next wait would end past the budget). The loop takes its clock and its randomness, so a fake clock
// tests it without waiting.

/** controller.kubeRoute.retry, in milliseconds. */
export interface RetryPolicy {
  /** How long after the first try a retry may still start. */
  readonly budgetMs: number;
  /** The wait before the first retry (before jitter). */
  readonly initialBackoffMs: number;
  /** The longest the doubling wait grows (before jitter). */
  readonly maxBackoffMs: number;
}

/** How one try ended, as far as retrying cares: no HTTP answer at all, or an HTTP status. */
export type TryOutcome = { readonly kind: 'unreachable' } | { readonly kind: 'status'; readonly status: number };

/** Whether trying the same request again may succeed without anyone changing anything. */
export function isTransient(outcome: TryOutcome): boolean {
  if (outcome.kind === 'unreachable') return true;
  return outcome.status === 429 || (outcome.status >= 500 && outcome.status <= 599);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** The three forms of an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, the obsolete RFC 850 and asctime. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** An HTTP-date as epoch milliseconds (always GMT), or undefined when it is not one. */
export function parseHttpDate(text: string, nowMs: number): number | undefined {
  const utc = (year: number, month: string, day: string, h: string, m: string, s: string) => {
    const at = new Date(Date.UTC(year, MONTHS.indexOf(month), Number(day), Number(h), Number(m), Number(s)));
    // Date.UTC rolls 31 Feb over into March; an impossible date is no date.
    const same = at.getUTCDate() === Number(day) && at.getUTCHours() === Number(h) && at.getUTCMinutes() === Number(m);
    return same && Number(s) < 60 ? at.getTime() : undefined;
  };
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  m = RFC_850.exec(text);
  if (m) {
    // A two-digit year more than 50 years ahead is the most recent past year ending so (RFC 9110).
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(text);
  if (m) return utc(Number(m[6]), m[1]!, m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return undefined;
}

/**
 * How long a `Retry-After` header asks to wait, in milliseconds: delta-seconds, or an HTTP-date
 * (a date in the past asks for no wait). Undefined when absent or not either form: it is ignored.
 */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = parseHttpDate(value, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

/**
 * The wait before retry n (0-based): initialBackoffMs · 2^n, capped at maxBackoffMs, then jittered
 * to between half and all of that by `random` in [0, 1), so clients failing together spread out.
 */
export function backoffMs(policy: RetryPolicy, n: number, random: number): number {
  const capped = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** n);
  return Math.round(capped / 2 + (capped / 2) * random);
}

/**
 * The wait before retry n (0-based) of a try that failed transiently `elapsedMs` after the first
 * began: the backoff, or longer when the server asked for it; undefined (stop) when that wait would
 * end past the budget.
 */
export function nextWaitMs(
  policy: RetryPolicy,
  n: number,
  elapsedMs: number,
  serverAskedMs: number | undefined,
  random: number,
): number | undefined {
  const wait = Math.max(backoffMs(policy, n, random), serverAskedMs ?? 0);
  return elapsedMs + wait > policy.budgetMs ? undefined : wait;
}

/** What one try gave: its value, whether trying again may help, and the wait the server asked for. */
export interface TryResult<T> {
  readonly value: T;
  readonly transient: boolean;
  readonly retryAfterMs?: number | undefined;
}

/** A retry about to happen, for one line of progress. */
export interface RetryNotice<T> {
  /** What the failed try gave. */
  readonly value: T;
  /** Which retry this is (1 for the first). */
  readonly retry: number;
  readonly waitMs: number;
  /** Since the first try began. */
  readonly elapsedMs: number;
}

/** The last try's value, how many tries it took, over how long, and whether the budget ran out. */
export interface Tried<T> {
  readonly value: T;
  readonly tries: number;
  readonly elapsedMs: number;
  /** The last try failed transiently and the next wait would have passed the budget. */
  readonly exhausted: boolean;
}

/** Tries `attempt` until it gives a value that is not transient, or the next wait would pass the budget. */
export async function retrying<T>(
  policy: RetryPolicy,
  deps: { readonly clock: Clock; readonly random: () => number },
  attempt: () => Promise<TryResult<T>>,
  onRetry: (notice: RetryNotice<T>) => void,
): Promise<Tried<T>> {
  const start = deps.clock.now();
  for (let tries = 1; ; tries++) {
    const result = await attempt();
    const elapsedMs = deps.clock.now() - start;
    if (!result.transient) return { value: result.value, tries, elapsedMs, exhausted: false };
    const waitMs = nextWaitMs(policy, tries - 1, elapsedMs, result.retryAfterMs, deps.random());
    if (waitMs === undefined) return { value: result.value, tries, elapsedMs, exhausted: true };
    onRetry({ value: result.value, retry: tries, waitMs, elapsedMs });
    await deps.clock.sleep(waitMs);
  }
}
