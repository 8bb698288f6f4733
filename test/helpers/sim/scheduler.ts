import type { Clock } from '../../../core/clock.ts';
import { BranchFollowerError } from '../../../core/errors.ts';
import type { CallHook, PortCall } from '../../../runner/memory/hook.ts';
import type { PassResult } from '../../../runner/pass.ts';
import type { Rng } from './rng.ts';

// A deterministic scheduler for passes that run at once on simulated time. Every port call of a
// pass parks it twice — before the call takes effect and after — and every sleep parks it until its
// wake-up time. At each step the scheduler picks one ready pass (seeded) and lets it run to its next
// park. Time moves only when no pass is ready. A pass can be crashed at any park (it is never
// resumed: nothing after that await runs, not even its finally blocks), a call can fail with an
// outage, and a read can be slow.

/** How a pass may be disturbed, per park. */
export interface Disturbance {
  /** Probability that the pass dies at a park. */
  readonly crash: number;
  /** Probability that a state/Lease/Event call fails as an unreachable API server would. */
  readonly outage: number;
  /** Probability that a read (writes: false) takes `slowMs` of simulated time. */
  readonly slow: number;
  readonly slowMs: number;
}

export const CALM: Disturbance = { crash: 0, outage: 0, slow: 0, slowMs: 0 };

interface Park {
  readonly wakeAt: number;
  readonly resume: () => void;
}

export type PassEnd = { result: PassResult } | { error: unknown } | 'crashed' | 'running';

/** One pass in the simulation: its clock and call hook are the scheduler's. */
export class SimPass implements CallHook, Clock {
  readonly id: string;
  readonly dryRun: boolean;
  readonly calls: PortCall[] = [];
  readonly lines: string[] = [];
  end: PassEnd = 'running';
  park: Park | undefined;
  onPark: (() => void) | undefined;
  private readonly sched: Scheduler;
  private readonly disturbance: Disturbance;

  constructor(sched: Scheduler, id: string, dryRun: boolean, disturbance: Disturbance) {
    this.sched = sched;
    this.id = id;
    this.dryRun = dryRun;
    this.disturbance = disturbance;
  }

  now(): number {
    return this.sched.now;
  }

  sleep(ms: number): Promise<void> {
    return this.wait(this.sched.now + ms);
  }

  /** The newest `trigger … (attempt N)` progress line's attempt: what this pass is sending. */
  sendingAttempt(): number | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const m = /\] trigger [0-9a-f]{12} \S+ \(attempt (\d+)\)$/.exec(this.lines[i]!);
      if (m) return Number(m[1]);
    }
    return undefined;
  }

  async around<T>(call: PortCall, effect: () => T): Promise<T> {
    this.calls.push(call);
    const d = this.disturbance;
    const slow = !call.writes && this.sched.rng.chance(d.slow) ? d.slowMs : 0;
    await this.wait(this.sched.now + slow);
    if ((call.port === 'state' || call.port === 'lease' || call.port === 'events') && this.sched.rng.chance(d.outage)) {
      throw new BranchFollowerError(
        `cannot reach the Kubernetes API (${call.port} ${call.method}): connection refused`,
        { reason: 'KubeUnreachable', retryable: true },
      );
    }
    const result = effect();
    this.sched.effect(this, call, result);
    await this.wait(this.sched.now);
    return result;
  }

  wait(wakeAt: number): Promise<void> {
    return new Promise((resume) => {
      this.park = { wakeAt, resume };
      this.settled();
    });
  }

  /** Tells the scheduler this pass stopped running (parked or ended). */
  settled(): void {
    const p = this.onPark;
    this.onPark = undefined;
    p?.();
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
    p.park = {
      wakeAt: at,
      resume: () => {
        start(p).then(
          (result) => {
            p.end = { result };
            p.park = undefined;
            p.settled();
          },
          (error: unknown) => {
            p.end = { error };
            p.park = undefined;
            p.settled();
          },
        );
      },
    };
    this.passes.push(p);
    return p;
  }

  /** Runs until no pass is left running and the timeline is empty; `maxSteps` bounds a runaway history. */
  async run(maxSteps: number): Promise<void> {
    for (let steps = 0; steps < maxSteps; steps++) {
      const parked = this.passes.filter((p) => p.end === 'running' && p.park);
      const ready = parked.filter((p) => p.park!.wakeAt <= this.now);
      const due = this.timeline[0];
      if (due && due.at <= this.now) {
        this.timeline.shift();
        due.run();
        continue;
      }
      if (ready.length === 0) {
        const next = Math.min(...parked.map((p) => p.park!.wakeAt), due?.at ?? Infinity);
        if (next === Infinity) return;
        this.now = next;
        continue;
      }
      this.between();
      const p = this.rng.pick(ready);
      const started = p.calls.length > 0 || p.lines.length > 0;
      if (started && p.crashable()) {
        p.end = 'crashed';
        p.park = undefined;
        continue;
      }
      const { resume } = p.park!;
      p.park = undefined;
      await new Promise<void>((settled) => {
        p.onPark = settled;
        resume();
      });
    }
    throw new Error(`simulation did not settle within ${maxSteps} steps`);
  }
}
