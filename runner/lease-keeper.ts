import type { Clock } from '../core/clock.ts';
import { BranchFollowerError } from '../core/errors.ts';
import type { HeldLease, LeasePort } from './ports.ts';

// The Lease, held while the pass acts. It is renewed in the background every renewSeconds, and
// checked before every write-ahead and trigger: by the pass's own clock, the last renewal that
// succeeded (timed from just before its request was sent) must cover the step about to be taken.
// When it does not, the keeper renews at once; when someone else holds the Lease by then, it is
// lost and the pass stops acting.

export interface KeeperOptions {
  readonly durationMs: number;
  readonly renewMs: number;
  /** The Lease in words, e.g. `Lease ns/name`. */
  readonly what: string;
  /** This pass, as the Lease holder. */
  readonly identity: string;
}

/** Who took the Lease over, or why it could not be kept. */
export class LeaseLost extends BranchFollowerError {
  /** The live holder that took it over; undefined when the Lease ran out because it could not be renewed. */
  readonly takenBy: { readonly holder: string; readonly renewedAgoMs: number } | undefined;

  constructor(message: string, takenBy: LeaseLost['takenBy'], cause?: unknown) {
    super(message, { reason: 'LeaseLost', retryable: true, cause });
    this.takenBy = takenBy;
  }
}

const isConflict = (err: unknown) => err instanceof BranchFollowerError && err.reason === 'KubeConflict';

/** How much of the Lease is left at `now`, by the holder's clock, after a renewal sent at `renewedAt`. */
function leaseLeftMs(renewedAt: number, durationMs: number, now: number): number {
  return renewedAt + durationMs - now;
}

export class LeaseKeeper {
  private lease: HeldLease;
  private renewedAt: number;
  private lost: LeaseLost | undefined;
  private lastError: unknown;
  private renewing: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly port: LeasePort;
  private readonly clock: Clock;
  private readonly opts: KeeperOptions;

  /** `lease` was taken (or renewed) by a request sent at `takenAt`. */
  constructor(port: LeasePort, clock: Clock, opts: KeeperOptions, lease: HeldLease, takenAt: number) {
    this.port = port;
    this.clock = clock;
    this.opts = opts;
    this.lease = lease;
    this.renewedAt = takenAt;
  }

  /** Starts the background renewal; it ends with stop(), or when the Lease is lost. */
  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted && !this.lost) {
      await this.clock.sleep(this.opts.renewMs, signal);
      if (signal.aborted) return;
      await this.renew();
    }
  }

  /** One renewal at a time: a caller arriving while one is under way shares it. */
  private renew(): Promise<void> {
    if (!this.renewing) {
      this.renewing = this.renewOnce().finally(() => {
        this.renewing = undefined;
      });
    }
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.lost) return;
    const sentAt = this.clock.now();
    try {
      this.lease = await this.port.renew(this.lease);
      this.renewedAt = sentAt;
      this.lastError = undefined;
      return;
    } catch (err) {
      if (!isConflict(err)) {
        // Unreachable, timed out: the Lease may still be held; check() decides by what is left of it.
        this.lastError = err;
        return;
      }
    }
    // Someone wrote the Lease since this pass last did. Take it again if no other live holder has it
    // (it was this pass's own write, whose answer was lost, or the holder gave it up); else it is lost.
    try {
      const again = this.clock.now();
      const got = await this.port.acquire(this.opts.identity);
      if (got.acquired) {
        this.lease = got.lease;
        this.renewedAt = again;
        this.lastError = undefined;
      } else {
        this.lost = new LeaseLost(
          `${this.opts.what} was taken over by ${got.holder} (renewed ${Math.round(got.renewedAgoMs / 1000)}s ago)`,
          { holder: got.holder, renewedAgoMs: got.renewedAgoMs },
        );
      }
    } catch (err) {
      this.lastError = err;
    }
  }

  /**
   * Resolves when the Lease covers the next `needMs` by this pass's clock, renewing it first if it
   * does not; rejects with LeaseLost when another holder took it, or it cannot be renewed in time.
   */
  async check(needMs: number): Promise<void> {
    if (this.renewing) await this.renewing;
    if (!this.lost && leaseLeftMs(this.renewedAt, this.opts.durationMs, this.clock.now()) < needMs) await this.renew();
    if (this.lost) throw this.lost;
    const left = leaseLeftMs(this.renewedAt, this.opts.durationMs, this.clock.now());
    if (left < needMs) {
      const why = this.lastError instanceof Error ? `: ${this.lastError.message}` : '';
      throw new LeaseLost(
        `${this.opts.what} cannot be kept: ${Math.max(0, Math.round(left / 1000))}s of it are left and the next ` +
          `step needs ${Math.round(needMs / 1000)}s, but renewing it failed${why}`,
        undefined,
        this.lastError,
      );
    }
  }

  /** Stops the background renewal; returns the Lease as last held (for release), unless it was lost. */
  async stop(): Promise<HeldLease | undefined> {
    this.stopping.abort();
    if (this.renewing) await this.renewing;
    return this.lost ? undefined : this.lease;
  }
}
