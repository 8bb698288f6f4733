// How the bench spreads a registry of n followers, as an operator would size it (docs/state-machine.md):
// one shard per 1,000 followers, state objects enough that each holds ~60 records (a record is
// ~2.1 KB once closed out, so an object stays well under the shipped 256 KiB), and 32 adapter calls
// at once (the target is read at that concurrency).

interface BenchLayout {
  readonly shards: number;
  readonly objects: number;
  readonly adapterCalls: number;
  readonly gitCalls: number;
}

function benchLayout(n: number): BenchLayout {
  const shards = Math.max(1, Math.ceil(n / 1000));
  const perShard = Math.max(1, Math.ceil(n / shards / 60));
  return { shards, objects: shards * perShard, adapterCalls: 32, gitCalls: 8 };
}

/** The controller of `registry`, laid out for n followers. */
export function laidOut<C extends { pass: object; state: object }>(controller: C, n: number): C {
  const l = benchLayout(n);
  const pass = controller.pass as { concurrency: object };
  return {
    ...controller,
    pass: {
      ...controller.pass,
      shards: l.shards,
      concurrency: { ...pass.concurrency, adapterCalls: l.adapterCalls, gitCalls: l.gitCalls },
    },
    state: { ...controller.state, objects: l.objects },
  };
}
