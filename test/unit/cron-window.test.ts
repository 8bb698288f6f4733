import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CronTicks, parseCron } from '../../core/config/cron.ts';
import { loadRegistry } from '../../core/config/load.ts';
import { shortestTickGapSeconds, watchWindowEnd } from '../../core/config/watch-window.ts';

const ROOT = join(import.meta.dirname, '../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const DAY = 86_400_000;

describe('a CronJob schedule', () => {
  it('ticks as cron does: steps, ranges, lists, 7 for Sunday, either day field when both are set', () => {
    const utc = (s: string) => new CronTicks(parseCron(s), 'Etc/UTC', true);
    expect(iso(utc('* * * * *').next(at('2026-12-01T12:00:07Z'), DAY))).toBe('2026-12-01T12:01:00.000Z');
    expect(iso(utc('* * * * *').previous(at('2026-12-01T12:00:07Z'), DAY))).toBe('2026-12-01T12:00:00.000Z');
    expect(iso(utc('*/15 * * * *').next(at('2026-12-01T12:00:00Z'), DAY))).toBe('2026-12-01T12:15:00.000Z');
    expect(iso(utc('5-7,30 3 * * *').next(at('2026-12-01T03:07:00Z'), DAY))).toBe('2026-12-01T03:30:00.000Z');
    // 2026-12-06 is a Sunday
    expect(iso(utc('0 0 * * 7').next(at('2026-12-01T00:00:00Z'), 7 * DAY))).toBe('2026-12-06T00:00:00.000Z');
    // the 1st of the month or any Friday (2026-12-04)
    expect(iso(utc('0 0 1 * 5').next(at('2026-12-01T00:00:00Z'), 31 * DAY))).toBe('2026-12-04T00:00:00.000Z');
    expect(utc('0 0 1 1 *').next(at('2026-12-01T00:00:00Z'), DAY)).toBeUndefined();
    expect(() => parseCron('61 * * * *')).toThrow('the minute field "61" is outside 0-59');
  });

  it('is read in its time zone', () => {
    const berlin = new CronTicks(parseCron('0 9 * * *'), 'Europe/Berlin', false);
    // 09:00 in Berlin is 08:00 UTC in winter
    expect(iso(berlin.next(at('2026-12-01T07:00:00Z'), DAY))).toBe('2026-12-01T08:00:00.000Z');
  });

  it('has a shortest gap between ticks around the clock', () => {
    expect(shortestTickGapSeconds(parseCron('* * * * *'))).toBe(60);
    expect(shortestTickGapSeconds(parseCron('*/15 * * * *'))).toBe(900);
    expect(shortestTickGapSeconds(parseCron('0 9,17 * * *'))).toBe(8 * 3600);
    expect(shortestTickGapSeconds(parseCron('0 23,1 * * *'))).toBe(2 * 3600);
  });
});

describe('the watch window of a scheduled pass', () => {
  const controller = (edit: { enabled: boolean; schedule?: string; activeDeadlineSeconds?: number }) => {
    const c = base.registry.controller;
    return {
      ...c,
      pass: { ...c.pass, watchWindow: { enabled: edit.enabled, intervalSeconds: 5, marginSeconds: 10 } },
      cronJob: {
        ...c.cronJob,
        schedule: edit.schedule ?? '* * * * *',
        activeDeadlineSeconds: edit.activeDeadlineSeconds ?? 300,
      },
    };
  };

  it('ends marginSeconds before the next tick', () => {
    expect(iso(watchWindowEnd(controller({ enabled: true }), at('2026-12-01T12:00:07Z')))).toBe(
      '2026-12-01T12:00:50.000Z',
    );
  });

  it('ends marginSeconds before the Job reaches its activeDeadlineSeconds, counted from its tick', () => {
    const c = controller({ enabled: true, schedule: '*/5 * * * *', activeDeadlineSeconds: 120 });
    expect(iso(watchWindowEnd(c, at('2026-12-01T12:00:07Z')))).toBe('2026-12-01T12:01:50.000Z');
  });

  it('is none when disabled, or when no tick within activeDeadlineSeconds started the pass', () => {
    const start = at('2026-12-01T12:00:07Z');
    expect(watchWindowEnd(controller({ enabled: false }), start)).toBe(start);
    expect(watchWindowEnd(controller({ enabled: true, schedule: '0 9 * * *' }), start)).toBe(start);
  });
});
