import type { LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { UsageError } from '../../core/errors.ts';

// The follower a `--follower <id>` names: it must be declared; an unknown id lists the declared ones.

export function namedFollower(loaded: LoadedRegistry, id: string): FollowerConfig {
  const all = loaded.registry.followers;
  const f = all.find((x) => x.id === id);
  if (!f)
    throw new UsageError(
      `--follower: no follower "${id}" in ${loaded.file} (followers: ${all.map((x) => x.id).join(', ')})`,
    );
  return f;
}
