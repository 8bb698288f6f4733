import type { LoadedRegistry } from '../core/config/load.ts';

/** The labels every object carries. */
export function ownerLabels(loaded: LoadedRegistry): Record<string, string> {
  const c = loaded.registry.controller;
  return {
    'app.kubernetes.io/name': 'branch-follower',
    'app.kubernetes.io/instance': c.name,
    'app.kubernetes.io/part-of': c.partOf,
    'app.kubernetes.io/managed-by': 'branch-follower',
  };
}
