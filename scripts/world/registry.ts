import { resolve } from 'node:path';
import { loadRegistry, type LoadedRegistry } from '../../core/config/load.ts';

/** The project root, where the shipped registry and owning files live. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const REGISTRY = 'config/cicd-branch-followers.yaml';

/** The shipped registry, validated. */
export function shippedRegistry(): LoadedRegistry {
  return loadRegistry(REGISTRY, ROOT);
}
