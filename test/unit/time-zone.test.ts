import { describe, expect, it } from 'vitest';
import { formatterKnows, isTimeZone, UTC_NAMES } from '../../core/config/time-zone.ts';

// cronJob.timeZone is checked without a formatter where it can be (a formatter costs every verb ~25 ms);
// the quick answers must be the formatter's.
describe('an IANA time zone', () => {
  it('every name of UTC known without a formatter is one a formatter knows', () => {
    for (const name of UTC_NAMES) expect(formatterKnows(name), name).toBe(true);
  });

  it('every canonical zone is one a formatter knows', () => {
    for (const name of Intl.supportedValuesOf('timeZone')) expect(formatterKnows(name), name).toBe(true);
  });

  it('an alias outside the list is still known; a name no database has, or none, is not', () => {
    expect(isTimeZone('US/Pacific')).toBe(true);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
    expect(isTimeZone('utc ')).toBe(false);
  });
});
