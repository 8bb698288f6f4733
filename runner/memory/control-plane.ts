import type { Clock } from '../../core/clock.ts';
import type { AdapterRun, AdapterStatus } from '../adapters/contract.ts';
import type { AdapterPort } from '../ports.ts';
import { immediate, type CallHook } from './hook.ts';

/** One run the control plane started. */
export interface MemoryRun {
  readonly name: string;
  readonly sha: string;
  phase: AdapterRun['phase'];
  message?: string;
  /** The status shows the run from this time on. */
  visibleAt: number;
}

/** One trigger the control plane received. */
export interface Received {
  readonly followerId: string;
  readonly sha: string;
  readonly snapshotRef: string;
  readonly run: string;
  /** The clock when it was received. */
  readonly at: number;
}

/** One follower's lane of the control plane, with its faults and timing. */
export class Lane {
  readonly runs: MemoryRun[] = [];
  targetSha: string | null = null;
  deployedSha: string | null = null;
  /** What the status says of the mirror: required by the contract, never used by the machine. */
  mirror: AdapterStatus['mirror'] = { pendingFlush: false, githubInSync: true };
  /** The next n status calls fail. */
  statusFailures = 0;
  /** The next n triggers fail; with `startsAnyway` the failing trigger still started its run (e.g. it timed out). */
  triggerFailures = 0;
  startsAnyway = false;
  /** How long the trigger command runs, and how long after it returned its run still does not show. */
  sendMs = 0;
  lagMs = 0;

  /** The newest run still going. */
  current(): MemoryRun | undefined {
    const r = this.runs[this.runs.length - 1];
    return r && (r.phase === 'Pending' || r.phase === 'Running') ? r : undefined;
  }
}

// The deployment control plane in memory, behind the adapter port: a run per trigger received,
// status from its own state. A run succeeds or fails when the test (or benchmark) says so; on
// success the control plane targets and deploys its sha and publishes a GitOps commit.
export class MemoryControlPlane {
  readonly received: Received[] = [];
  private readonly lanes = new Map<string, Lane>();
  private readonly now: () => number;
  private readonly published: (followerId: string) => void;

  constructor(now: () => number, published: (followerId: string) => void) {
    this.now = now;
    this.published = published;
  }

  lane(followerId: string): Lane {
    const known = this.lanes.get(followerId);
    if (known) return known;
    const l = new Lane();
    this.lanes.set(followerId, l);
    return l;
  }

  /** The newest running run of the follower succeeds (deploying its sha unless `deploys` is false). */
  succeed(followerId: string, deploys = true): void {
    const l = this.lane(followerId);
    const r = l.current();
    if (!r) return;
    r.phase = 'Succeeded';
    l.targetSha = r.sha;
    if (deploys) l.deployedSha = r.sha;
    this.published(followerId);
  }

  fail(followerId: string, message = 'step build exited 1'): void {
    const r = this.lane(followerId).current();
    if (!r) return;
    r.phase = 'Failed';
    r.message = message;
  }

  private status(followerId: string): { status: AdapterStatus; tail: string } | { error: string; tail: string } {
    const l = this.lane(followerId);
    if (l.statusFailures > 0) {
      l.statusFailures--;
      return { error: 'status command exited 1: connection refused', tail: '' };
    }
    const now = this.now();
    const shown = [...l.runs].reverse().find((r) => r.visibleAt <= now);
    const run: AdapterRun | null = shown
      ? {
          name: shown.name,
          sha: shown.sha,
          phase: shown.phase,
          ...(shown.message !== undefined ? { message: shown.message } : {}),
        }
      : null;
    const status: AdapterStatus = { targetSha: l.targetSha, deployedSha: l.deployedSha, run, mirror: { ...l.mirror } };
    return { status, tail: JSON.stringify(status) };
  }

  /** Receives a trigger: the run starts now and shows `sendMs + lagMs` later; the command's answer. */
  private receive(
    followerId: string,
    sha: string,
    snapshotRef: string,
  ): { runName: string; tail: string } | { error: string; tail: string } {
    const l = this.lane(followerId);
    const fails = l.triggerFailures > 0;
    if (fails) l.triggerFailures--;
    if (fails && !l.startsAnyway) return { error: 'trigger command exited 2: rejected', tail: '' };
    const name = `${followerId}-run-${l.runs.length + 1}`;
    const now = this.now();
    this.received.push({ followerId, sha, snapshotRef, run: name, at: now });
    l.runs.push({ name, sha, phase: 'Pending', visibleAt: now + l.sendMs + l.lagMs });
    return fails
      ? { error: 'trigger command timed out', tail: '' }
      : { runName: name, tail: JSON.stringify({ run: { name, sha } }) };
  }

  /** The adapter port of one caller, whose clock waits out a trigger command's `sendMs`. */
  port(clock: Clock, hook: CallHook = immediate): AdapterPort {
    return {
      status: (f) => hook.around({ port: 'adapters', method: 'status', writes: false }, () => this.status(f.id)),
      trigger: async (f, sha, snapshotRef) => {
        const answer = await hook.around({ port: 'adapters', method: 'trigger', writes: true }, () =>
          this.receive(f.id, sha, snapshotRef),
        );
        const sendMs = this.lane(f.id).sendMs;
        if (sendMs > 0) await clock.sleep(sendMs);
        return answer;
      },
    };
  }
}
