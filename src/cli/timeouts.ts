import type { ControllerConfig } from '../../core/config/schema.ts';
import { UsageError } from '../../core/errors.ts';
import type { VerbContext } from './verb.ts';

// `--timeout` (a wait's budget) and `--request-timeout` (one try of one API request), kubectl's
// flags: for one run they override what the registry declares, and a wait says which it follows.

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** A duration as kubectl takes one (`90`, `90s`, `1.5m`, `2h`, `500ms`; bare numbers are seconds), in seconds. */
export function parseDuration(flag: string, text: string): number {
  const m = DURATION.exec(text);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[(m[2] ?? 's') as keyof typeof UNIT_SECONDS] : Number.NaN;
  if (!(seconds > 0))
    throw new UsageError(
      `${flag} "${text.slice(0, 80)}": a duration above zero, such as 90s, 1.5m or 2h (a bare number is seconds)`,
    );
  return seconds;
}

/** The wait budget of one run: `--timeout` when given (it needs --wait), else the registry's. */
export function waitBudget(
  opts: { readonly wait?: boolean; readonly timeout?: string },
  declared: { readonly waitSeconds: number; readonly path: string },
): { seconds: number; path: string; said: string } {
  if (opts.timeout === undefined)
    return {
      seconds: declared.waitSeconds,
      path: declared.path,
      said: `budget ${declared.waitSeconds}s, ${declared.path}`,
    };
  if (!opts.wait) throw new UsageError('--timeout is the budget of --wait: it needs --wait');
  const seconds = parseDuration('--timeout', opts.timeout);
  return {
    seconds,
    path: `--timeout ${opts.timeout}`,
    said: `budget ${seconds}s from --timeout ${opts.timeout}, instead of ${declared.path}: ${declared.waitSeconds}s`,
  };
}

/** controller.kubeRoute, with `--request-timeout` in place of requestTimeoutSeconds when it was given. */
export function kubeRouteOf(ctx: VerbContext, kubeRoute: ControllerConfig['kubeRoute']): ControllerConfig['kubeRoute'] {
  const flag = ctx.globals().requestTimeout;
  if (flag === undefined) return kubeRoute;
  return { ...kubeRoute, requestTimeoutSeconds: parseDuration('--request-timeout', flag) };
}

/** The option every verb with --wait takes. */
export const TIMEOUT_FLAG = [
  '--timeout <duration>',
  'with --wait: wait this long (90s, 2m, …) instead of the budget the registry declares, for this run',
] as const;
