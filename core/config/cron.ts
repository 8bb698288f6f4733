// A CronJob's schedule as its controller reads it: five fields (minute, hour, day of month, month,
// day of week), each `*`, a number, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a list of these;
// day of week 0-7, 7 being Sunday again. When both day fields are restricted, a day that matches
// either one fires, as cron has it. Read in an IANA time zone. Pure: no clock, no I/O.

export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  readonly daysRestricted: boolean;
  readonly weekdaysRestricted: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

function field(text: string, f: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    const bounds = range === '*' ? [f.min, f.max] : range.split('-').map(Number);
    const lo = bounds[0]!;
    const hi = bounds[1] ?? (stepText === undefined ? lo : f.max);
    if (!Number.isInteger(step) || step < 1 || lo < f.min || hi > f.max || lo > hi)
      throw new Error(`the ${f.name} field "${part}" is outside ${f.min}-${f.max}`);
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** The schedule of a five-field expression (its shape already checked by the registry schema). */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`"${expression}" is not a five-field cron schedule`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => field(p, FIELDS[i]!));
  return {
    minutes: minutes!,
    hours: hours!,
    days: days!,
    months: months!,
    weekdays: weekdays!,
    daysRestricted: !parts[2]!.startsWith('*'),
    weekdaysRestricted: !parts[4]!.startsWith('*'),
  };
}

/** The wall clock of an instant in a zone. */
interface WallClock {
  readonly minute: number;
  readonly hour: number;
  readonly day: number;
  readonly month: number;
  readonly weekday: number;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** How to read the wall clock of `zone`: UTC directly, any other zone through one Intl formatter. */
function wallClockOf(zone: string, utc: boolean): (ms: number) => WallClock {
  if (utc) {
    return (ms) => {
      const d = new Date(ms);
      return {
        minute: d.getUTCMinutes(),
        hour: d.getUTCHours(),
        day: d.getUTCDate(),
        month: d.getUTCMonth() + 1,
        weekday: d.getUTCDay(),
      };
    };
  }
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  return (ms) => {
    const p = Object.fromEntries(format.formatToParts(ms).map((x) => [x.type, x.value]));
    return {
      minute: Number(p.minute),
      hour: Number(p.hour),
      day: Number(p.day),
      month: Number(p.month),
      weekday: WEEKDAYS[p.weekday!]!,
    };
  };
}

function fires(s: CronSchedule, w: WallClock): boolean {
  if (!s.minutes.has(w.minute) || !s.hours.has(w.hour) || !s.months.has(w.month)) return false;
  const day = s.days.has(w.day);
  const weekday = s.weekdays.has(w.weekday);
  if (s.daysRestricted && s.weekdaysRestricted) return day || weekday;
  return day && weekday;
}

const MINUTE = 60_000;

/** The schedule's ticks in a zone, minute by minute, within a horizon. */
export class CronTicks {
  private readonly schedule: CronSchedule;
  private readonly wall: (ms: number) => WallClock;

  /** `utc`: the zone is a name of UTC (its wall clock is read without Intl). */
  constructor(schedule: CronSchedule, zone: string, utc: boolean) {
    this.schedule = schedule;
    this.wall = wallClockOf(zone, utc);
  }

  /** The first tick strictly after `ms`, within `horizonMs`; undefined when there is none. */
  next(ms: number, horizonMs: number): number | undefined {
    for (let t = Math.floor(ms / MINUTE) * MINUTE + MINUTE; t <= ms + horizonMs; t += MINUTE)
      if (fires(this.schedule, this.wall(t))) return t;
    return undefined;
  }

  /** The last tick at or before `ms`, within `horizonMs`; undefined when there is none. */
  previous(ms: number, horizonMs: number): number | undefined {
    for (let t = Math.floor(ms / MINUTE) * MINUTE; t >= ms - horizonMs; t -= MINUTE)
      if (fires(this.schedule, this.wall(t))) return t;
    return undefined;
  }
}
