/** Time, injected so waits and the pass can be tested, and simulated, without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (a wait that is no longer wanted holds nothing). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};
