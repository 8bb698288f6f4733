import type { Clock } from '../../../core/clock.ts';
import { BranchFollowerError } from '../../../core/errors.ts';
import type { CallHook, PortCall } from '../../../runner/memory/hook.ts';
import type { PassResult } from '../../../runner/pass.ts';
import type { Rng } from './rng.ts';

// A deterministic scheduler for passes that run at once on simulated time. Every port call of a
// pass parks it twice — before the call takes effect and after — and every sleep parks it until its
// wake-up time. A pass may have more than one park at a time: its Lease is renewed in the background
// (runner/lease-keeper.ts) while the pass itself waits on a call or a sleep. At each step the
// scheduler picks one ready park (seeded) and lets it run until nothing more can run without the
// scheduler (every microtask done). Time moves only when no park is ready. A pass can be crashed at
// any park (none of its parks is ever resumed: nothing after those awaits runs, not even its
// finally blocks), a call can fail with an outage, and a read can be slow.

/** How a pass may be disturbed, per park. */
export interface Disturbance {
  /** Probability that the pass dies at a park. */
  readonly crash: number;
  /**
   * Probability that a state/Lease/Event call fails as an unreachable API server would, and that a
   * state write that landed answers 409 (its answer was lost and it was sent again).
   */
  readonly outage: number;
  /** Probability that a read (writes: false) takes `slowMs` of simulated time. */
  readonly slow: number;
  readonly slowMs: number;
  /** Probability that, once it has taken the Lease, none of a pass's Lease updates reach the API server. */
  readonly leaseOutage: number;
}

export const CALM: Disturbance = { crash: 0, outage: 0, slow: 0, slowMs: 0, leaseOutage: 0 };

interface Park {
  readonly wakeAt: number;
  readonly resume: () => void;
}

/** Lets every microtask run: what a resumed park does until it parks again or waits on another park. */
const drained = () => new Promise<void>((resolve) => setImmediate(resolve));

export type PassEnd = { result: PassResult } | { error: unknown } | 'crashed' | 'running';

/** One pass in the simulation: its clock and call hook are the scheduler's. */
export class SimPass implements CallHook, Clock {
  readonly id: string;
  readonly dryRun: boolean;
  readonly calls: PortCall[] = [];
  readonly lines: string[] = [];
  end: PassEnd = 'running';
  parks: Park[] = [];
  private readonly sched: Scheduler;
  private readonly disturbance: Disturbance;
  /** Whether this pass's Lease renewals never get through (drawn once, at its start). */
  private renewalsLost: boolean | undefined;
  private leaseUpdates = 0;

  constructor(sched: Scheduler, id: string, dryRun: boolean, disturbance: Disturbance) {
    this.sched = sched;
    this.id = id;
    this.dryRun = dryRun;
    this.disturbance = disturbance;
  }

  now(): number {
    return this.sched.now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    const woken = this.wait(this.sched.now + ms);
    if (!signal) return woken;
    // An aborted sleep resolves at once (outside the schedule: what follows it only ends its loop).
    const park = this.parks.at(-1)!;
    return new Promise((resolve) => {
      void woken.then(resolve);
      signal.addEventListener(
        'abort',
        () => {
          this.parks = this.parks.filter((p) => p !== park);
          resolve();
        },
        { once: true },
      );
    });
  }

  /**
   * The newest `[<follower>] trigger <sha> … (attempt N)` progress line's attempt: what this pass is sending to that
   * follower (a pass sends several followers' triggers side by side).
   */
  sendingAttempt(followerId: string, sha: string): number | undefined {
    const prefix = `[${followerId}] trigger ${sha.slice(0, 12)} `;
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = this.lines[i]!;
      const m = line.startsWith(prefix) ? /\(attempt (\d+)\)$/.exec(line) : null;
      if (m) return Number(m[1]);
    }
    return undefined;
  }

  async around<T>(call: PortCall, effect: () => T): Promise<T> {
    this.calls.push(call);
    const d = this.disturbance;
    const slow = !call.writes && this.sched.rng.chance(d.slow) ? d.slowMs : 0;
    await this.wait(this.sched.now + slow);
    if (call.port === 'lease' && call.method === 'update') {
      this.renewalsLost ??= this.sched.rng.chance(d.leaseOutage);
      if (this.renewalsLost && this.leaseUpdates++ > 0) {
        throw new BranchFollowerError(
          'cannot reach the Kubernetes API (lease update): connection refused (its renewals never get through)',
          { reason: 'KubeUnreachable', retryable: true },
        );
      }
    }
    if ((call.port === 'state' || call.port === 'lease' || call.port === 'events') && this.sched.rng.chance(d.outage)) {
      throw new BranchFollowerError(
        `cannot reach the Kubernetes API (${call.port} ${call.method}): connection refused`,
        { reason: 'KubeUnreachable', retryable: true },
      );
    }
    const result = effect();
    this.sched.effect(this, call, result);
    await this.wait(this.sched.now);
    if (call.port === 'state' && call.writes && this.sched.rng.chance(d.outage)) {
      // The write landed but its answer was lost; sent again, it conflicts with itself.
      throw new BranchFollowerError(`${call.port} ${call.method} failed (HTTP 409): the object has been modified`, {
        reason: 'KubeConflict',
        retryable: true,
      });
    }
    return result;
  }

  wait(wakeAt: number): Promise<void> {
    return new Promise((resume) => {
      this.parks.push({ wakeAt, resume });
    });
  }

  crashable(): boolean {
    return this.sched.rng.chance(this.disturbance.crash);
  }
}

/** Something that happens in the world at a simulated time (a push, a run finishing, a fault). */
export interface Timed {
  readonly at: number;
  readonly run: () => void;
}

export class Scheduler {
  now: number;
  readonly rng: Rng;
  readonly passes: SimPass[] = [];
  /** Called after every effect of every port call, in order (the simulation's log). */
  onEffect: (pass: SimPass, call: PortCall, result: unknown) => void = () => undefined;
  /** Called before each step; may change the world "during" passes. */
  between: () => void = () => undefined;
  private timeline: Timed[] = [];

  constructor(rng: Rng, now: number) {
    this.rng = rng;
    this.now = now;
  }

  effect(pass: SimPass, call: PortCall, result: unknown): void {
    this.onEffect(pass, call, result);
  }

  at(t: Timed): void {
    this.timeline.push(t);
    this.timeline.sort((a, b) => a.at - b.at);
  }

  /** Adds a pass that starts at `at`; `start` runs it on the pass's own clock and hook. */
  launch(
    id: string,
    at: number,
    dryRun: boolean,
    disturbance: Disturbance,
    start: (p: SimPass) => Promise<PassResult>,
  ): SimPass {
    const p = new SimPass(this, id, dryRun, disturbance);
    p.parks.push({
      wakeAt: at,
      resume: () => {
        start(p).then(
          (result) => {
            p.end = { result };
            p.parks = [];
          },
          (error: unknown) => {
            p.end = { error };
            p.parks = [];
          },
        );
      },
    });
    this.passes.push(p);
    return p;
  }

  /** Runs until no pass is left running and the timeline is empty; `maxSteps` bounds a runaway history. */
  async run(maxSteps: number): Promise<void> {
    for (let steps = 0; steps < maxSteps; steps++) {
      const parked = this.passes.filter((p) => p.end === 'running' && p.parks.length > 0);
      const due = this.timeline[0];
      if (due && due.at <= this.now) {
        this.timeline.shift();
        due.run();
        continue;
      }
      const ready = parked.flatMap((p) => p.parks.filter((k) => k.wakeAt <= this.now).map((k) => ({ p, k })));
      if (ready.length === 0) {
        const next = Math.min(...parked.flatMap((p) => p.parks.map((k) => k.wakeAt)), due?.at ?? Infinity);
        if (next === Infinity) return;
        this.now = next;
        continue;
      }
      this.between();
      const { p, k } = this.rng.pick(ready);
      const started = p.calls.length > 0 || p.lines.length > 0;
      if (started && p.crashable()) {
        p.end = 'crashed';
        p.parks = [];
        continue;
      }
      p.parks = p.parks.filter((x) => x !== k);
      k.resume();
      await drained();
    }
    throw new Error(`simulation did not settle within ${maxSteps} steps`);
  }
}
