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
