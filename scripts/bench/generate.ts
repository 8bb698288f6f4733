import type { LoadedRegistry } from '../../core/config/load.ts';
import { laidOut } from './layout.ts';

// A registry of `n` followers made from the shipped one: follower i is a copy of shipped follower
// i mod 3 under its own id and branch, on its own target entry (a copy of the shipped follower's),
// so every follower is distinct to the pass while the registry keeps every shipped tunable but its
// layout (shards, state objects, concurrency: scripts/bench/layout.ts).

export function registryOf(base: LoadedRegistry, n: number): LoadedRegistry {
  const shipped = base.registry.followers;
  const followers = Array.from({ length: n }, (_, i) => {
    const f = shipped[i % shipped.length]!;
    return { ...f, id: `${f.id}-${i}`, source: { ...f.source, branch: `${f.source.branch}-bench-${i}` } };
  });
  const targets = new Map(followers.map((f, i) => [f.id, base.targets.get(shipped[i % shipped.length]!.id)!]));
  const controller = laidOut(base.registry.controller, n);
  return { ...base, registry: { ...base.registry, controller, followers }, targets };
}
