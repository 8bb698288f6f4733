import type { TargetEntry } from './owning-files.ts';
import type { FollowerConfig } from './schema.ts';

/** The values of every placeholder known outside a pass, for one follower. */
export function staticValues(f: FollowerConfig, target: TargetEntry): Map<string, string> {
  const values = new Map<string, string>([
    ['follower.id', f.id],
    ['adapter.id', f.adapter],
    ['source.repo', f.source.repo],
    ['source.branch', f.source.branch],
    ['source.mirror', f.source.mirror],
  ]);
  for (const [k, v] of Object.entries(target)) values.set(`target.${k}`, String(v));
  return values;
}
