import type { Clock } from './clock.ts';

// A wait that prints nothing while nothing changes looks hung. A heartbeat prints one line (how long of
// the budget, what is still pending) whenever the wait printed nothing for
// controller.progress.heartbeatSeconds; every other line the wait prints puts the next one off.

export class Heartbeat {
  private readonly clock: Clock;
  private readonly everyMs: number;
  private readonly print: (line: string) => void;
  private last: number;

  constructor(clock: Clock, everyMs: number, print: (line: string) => void) {
    this.clock = clock;
    this.everyMs = everyMs;
    this.print = print;
    this.last = clock.now();
  }

  /** A line was printed: the next heartbeat is due a whole interval from now. */
  beat(): void {
    this.last = this.clock.now();
  }

  /** Sleeps `ms`, printing `line()` each time nothing was printed for the interval. */
  async sleep(ms: number, line: () => string, signal?: AbortSignal): Promise<void> {
    const until = this.clock.now() + ms;
    for (;;) {
      const now = this.clock.now();
      if (now >= until || signal?.aborted) return;
      const due = this.last + this.everyMs;
      if (now >= due) {
        this.print(line());
        this.last = now;
        continue;
      }
      await this.clock.sleep(Math.min(until, due) - now, signal);
    }
  }
}

/** `12s of 120s (controller.apply.waitSeconds)`: how long a wait has waited of its budget. */
export function elapsedOf(elapsedMs: number, budget: { readonly ms: number; readonly path: string }): string {
  return `${Math.round(elapsedMs / 1000)}s of ${Math.round(budget.ms / 1000)}s (${budget.path})`;
}

/** At most this many pending things are named in one heartbeat. */
const NAMED = 3;

/** `a, b, c, and 2 more`: what a heartbeat names of what is still pending. */
export function firstFew(items: readonly string[]): string {
  const more = items.length > NAMED ? `, and ${items.length - NAMED} more` : '';
  return `${items.slice(0, NAMED).join(', ')}${more}`;
}
