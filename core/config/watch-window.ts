import { CronTicks, parseCron, type CronSchedule } from './cron.ts';
import { UTC_NAMES } from './time-zone.ts';
import type { ControllerConfig } from './schema.ts';

// Where a scheduled pass's watch window ends (controller.pass.watchWindow): marginSeconds before the
// next tick of the CronJob's schedule, and marginSeconds before the Job that runs this pass reaches its
// activeDeadlineSeconds, counted from the tick that started it (the Job cannot have started before it).
// A pass that no tick started (a Job made by `reconcile --now`, say) has no window. Pure.

const MINUTE = 60_000;

/** The end of the window of a pass started at `startMs` (epoch ms), or `startMs` when it has none. */
export function watchWindowEnd(c: ControllerConfig, startMs: number): number {
  const w = c.pass.watchWindow;
  if (!w.enabled) return startMs;
  const cj = c.cronJob;
  const deadlineMs = cj.activeDeadlineSeconds * 1000;
  const ticks = new CronTicks(parseCron(cj.schedule), cj.timeZone, UTC_NAMES.has(cj.timeZone));
  const started = ticks.previous(startMs, deadlineMs);
  if (started === undefined) return startMs;
  const next = ticks.next(startMs, deadlineMs) ?? Number.POSITIVE_INFINITY;
  return Math.max(startMs, Math.min(next, started + deadlineMs) - w.marginSeconds * 1000);
}

/**
 * The shortest time between two ticks, in seconds: the ticks of one day (every hour × minute) around
 * the clock, the last of a day to the first of the next. A day that does not fire only makes a gap
 * longer; a change of daylight saving time is not counted.
 */
export function shortestTickGapSeconds(schedule: CronSchedule): number {
  const ticks: number[] = [];
  for (const h of [...schedule.hours].sort((a, b) => a - b))
    for (const m of [...schedule.minutes].sort((a, b) => a - b)) ticks.push(h * 60 + m);
  let gap = 24 * 60 - ticks[ticks.length - 1]! + ticks[0]!;
  for (let i = 1; i < ticks.length; i++) gap = Math.min(gap, ticks[i]! - ticks[i - 1]!);
  return (gap * MINUTE) / 1000;
}
