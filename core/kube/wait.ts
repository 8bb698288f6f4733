import { WaitTimeoutError } from '../errors.ts';
import { realClock, type Clock } from '../clock.ts';
import { elapsedOf, firstFew, Heartbeat } from '../heartbeat.ts';
import type { Readiness } from './readiness.ts';

/** One thing to wait for. */
export interface ReadinessCheck {
  readonly label: string;
  check(): Promise<Readiness>;
}

type WaitProgress = (event: {
  label: string;
  detail: string;
  elapsedMs: number;
  readyCount: number;
  total: number;
}) => void;

/** How a wait is run: its budget, how often it polls, and what it prints. */
export interface WaitOptions {
  /** How long, and the setting (or flag) that said so, for the error and the heartbeat. */
  readonly budget: { readonly ms: number; readonly path: string };
  readonly pollMs: number;
  /** A heartbeat after this long without a line (controller.progress.heartbeatSeconds). */
  readonly heartbeatMs: number;
  readonly onReady: WaitProgress;
  /** Where the heartbeat goes. */
  readonly progress: (line: string) => void;
}

/** `2 pending: CronJob ns/x (not found), Lease ns/y (no holder)`. */
function pendingList(pending: readonly { label: string; detail: string }[]): string {
  return `${pending.length} pending: ${firstFew(pending.map((p) => `${p.label} (${p.detail})`))}`;
}

// Polls every check until all are ready or the budget is spent; reports each object as it becomes
// ready, and a heartbeat while none does. On timeout the error names every object still not ready and why.
export async function waitUntilReady(
  checks: readonly ReadinessCheck[],
  opts: WaitOptions,
  clock: Clock = realClock,
): Promise<number> {
  const { budget, pollMs } = opts;
  const start = clock.now();
  const heartbeat = new Heartbeat(clock, opts.heartbeatMs, opts.progress);
  const pending = new Map(checks.map((c) => [c.label, { check: c, detail: 'not checked yet' }]));
  for (;;) {
    for (const [label, entry] of pending) {
      const r = await entry.check.check();
      entry.detail = r.detail;
      if (r.ready) {
        pending.delete(label);
        heartbeat.beat();
        opts.onReady({
          label,
          detail: r.detail,
          elapsedMs: clock.now() - start,
          readyCount: checks.length - pending.size,
          total: checks.length,
        });
      }
    }
    if (pending.size === 0) return clock.now() - start;
    if (clock.now() - start + pollMs > budget.ms) {
      const list = [...pending].map(([label, e]) => `  ${label}: ${e.detail}`).join('\n');
      throw new WaitTimeoutError(`not ready after ${Math.round(budget.ms / 1000)}s (${budget.path}):\n${list}`);
    }
    await heartbeat.sleep(
      pollMs,
      () =>
        `  still waiting: ${elapsedOf(clock.now() - start, budget)}; ` +
        pendingList([...pending].map(([label, e]) => ({ label, detail: e.detail }))),
    );
  }
}
