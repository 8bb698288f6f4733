import type { CliIo } from './io.ts';

// Ctrl-C ends a watch as kubectl's `get -w` ends: quietly, exit 0. Only while a watch runs does the
// CLI take SIGINT and SIGTERM for itself; every other verb keeps Node's default (the process ends).

/** A signal that aborts on Ctrl-C (or the injected interrupt), and how to stop listening. */
export function untilInterrupted(io: CliIo): { readonly signal: AbortSignal; release(): void } {
  if (io.interrupt) return { signal: io.interrupt, release: () => undefined };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
