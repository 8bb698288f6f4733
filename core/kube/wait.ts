import { WaitTimeoutError } from '../errors.ts';
import { realClock, type Clock } from '../clock.ts';
import type { Readiness } from './readiness.ts';

/** One thing to wait for. */
export interface ReadinessCheck {
  readonly label: string;
  check(): Promise<Readiness>;
}

export type WaitProgress = (event: {
  label: string;
  detail: string;
  elapsedMs: number;
  readyCount: number;
  total: number;
}) => void;

// Polls every check until all are ready or the budget is spent; reports each object as it becomes
// ready. On timeout the error names every object still not ready and why.
export async function waitUntilReady(
  checks: readonly ReadinessCheck[],
  /** How long, and the setting (or flag) that said so, for the error. */
  budget: { readonly ms: number; readonly path: string },
  pollMs: number,
  onReady: WaitProgress,
  clock: Clock = realClock,
): Promise<number> {
  const start = clock.now();
  const pending = new Map(checks.map((c) => [c.label, { check: c, detail: 'not checked yet' }]));
  for (;;) {
    for (const [label, entry] of pending) {
      const r = await entry.check.check();
      entry.detail = r.detail;
      if (r.ready) {
        pending.delete(label);
        onReady({
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
    await clock.sleep(pollMs);
  }
}
