import { describe, expect, it } from 'vitest';
import { limiter, mapLimit } from '../../runner/limit.ts';

// A task that ends when the test says so, recording how many ran at once.
function gate() {
  let now = 0;
  let most = 0;
  const open: (() => void)[] = [];
  const task = (value: number) => async () => {
    now++;
    most = Math.max(most, now);
    await new Promise<void>((go) => open.push(go));
    now--;
    return value;
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { task, open, most: () => most, running: () => now, settle };
}

describe('limiter', () => {
  it('runs at most n tasks at once, in the order given, with their results', async () => {
    const g = gate();
    const limit = limiter(2);
    const order: number[] = [];
    const all = [1, 2, 3, 4, 5].map((v) =>
      limit(async () => {
        order.push(v);
        return g.task(v)();
      }),
    );
    await g.settle();
    expect(g.running()).toBe(2);
    while (g.open.length > 0) {
      g.open.shift()!();
      await g.settle();
      expect(g.running()).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(g.most()).toBe(2);
  });

  it('hands a freed slot to a waiting task, not to one that arrives in between', async () => {
    const g = gate();
    const limit = limiter(1);
    const first = limit(g.task(1));
    const waiting = limit(g.task(2));
    await g.settle();
    g.open.shift()!();
    // Arrives in the same turn the first ends: it queues behind the one already waiting.
    const late = limit(g.task(3));
    await g.settle();
    expect(g.running()).toBe(1);
    g.open.shift()!();
    await g.settle();
    g.open.shift()!();
    expect(await Promise.all([first, waiting, late])).toEqual([1, 2, 3]);
    expect(g.most()).toBe(1);
  });

  it('frees the slot of a task that rejects', async () => {
    const limit = limiter(1);
    await expect(limit(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await limit(async () => 7)).toBe(7);
  });

  it('shares its bound between mapLimit callers', async () => {
    const g = gate();
    const limit = limiter(3);
    const a = mapLimit([1, 2, 3, 4], 4, (v) => limit(g.task(v)));
    const b = mapLimit([5, 6], 2, (v) => limit(g.task(v)));
    for (let i = 0; i < 12; i++) {
      await g.settle();
      g.open.shift()?.();
    }
    expect(await a).toEqual([1, 2, 3, 4]);
    expect(await b).toEqual([5, 6]);
    expect(g.most()).toBe(3);
  });
});
