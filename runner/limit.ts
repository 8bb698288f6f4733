// Bounded concurrency for the pass: at most `n` of `fn` run at once, the results in the items'
// order. After the first rejection no further item is started; the call rejects with that error once
// the ones already running have settled, so nothing is left running behind the caller's back.
export async function mapLimit<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, n), items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** Runs each task given to it with at most `n` running at once, in the order they were given. */
export type Limiter = <R>(task: () => Promise<R>) => Promise<R>;

// A bound shared by calls made from several places of a pass (the adapter status calls a look starts
// early and the ones it makes while deciding): together they never run more than `n` at once.
export function limiter(n: number): Limiter {
  const max = Math.max(1, n);
  let running = 0;
  const queue: (() => void)[] = [];
  return async <R>(task: () => Promise<R>): Promise<R> => {
    // A task that waits is handed the slot of the one that ends (running stays as it is), so no task
    // that arrives in between can take it.
    if (running >= max) await new Promise<void>((go) => queue.push(go));
    else running++;
    try {
      return await task();
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}
