import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadRegistry, type LoadedRegistry } from '../../src/config/load.ts';

/** The project root, where the shipped registry and owning files live. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const REGISTRY = 'config/cicd-branch-followers.yaml';

/** The shipped registry, validated. */
export function shippedRegistry(): LoadedRegistry {
  return loadRegistry(REGISTRY, ROOT);
}

/** A temp copy of config/ whose registry text went through `edit`; returns the new root. */
export function registryCopy(edit: (text: string) => string = (t) => t): string {
  const dir = mkdtempSync(join(tmpdir(), 'bf-registry-'));
  cpSync(join(ROOT, 'config'), join(dir, 'config'), { recursive: true });
  const file = join(dir, REGISTRY);
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return dir;
}
