import { describe, expect, it } from 'vitest';
import { parseDuration, waitBudget } from '../../src/cli/timeouts.ts';

describe('--timeout and --request-timeout', () => {
  it('take durations as kubectl does; a bare number is seconds', () => {
    expect(['90', '90s', '1.5m', '2h', '500ms'].map((t) => parseDuration('--timeout', t))).toEqual([
      90, 90, 90, 7200, 0.5,
    ]);
    for (const bad of ['0', '0s', '-5s', '5d', 'soon', ''])
      expect(() => parseDuration('--timeout', bad)).toThrow(`--timeout "${bad}": a duration above zero`);
  });

  it('a wait follows the registry unless --timeout says otherwise, and says which', () => {
    const declared = { waitSeconds: 120, path: 'controller.apply.waitSeconds' };
    expect(waitBudget({ wait: true }, declared)).toEqual({
      seconds: 120,
      path: 'controller.apply.waitSeconds',
      said: 'budget 120s, controller.apply.waitSeconds',
    });
    expect(waitBudget({ wait: true, timeout: '45s' }, declared)).toEqual({
      seconds: 45,
      path: '--timeout 45s',
      said: 'budget 45s from --timeout 45s, instead of controller.apply.waitSeconds: 120s',
    });
    expect(() => waitBudget({ timeout: '45s' }, declared)).toThrow(
      '--timeout is the budget of --wait: it needs --wait',
    );
  });
});
