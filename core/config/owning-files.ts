import { isAbsolute, join, normalize, sep } from 'node:path';
import type { ConfigIssue } from '../errors.ts';
import type { FollowerConfig } from './schema.ts';
import { YamlSource, type YamlPath } from './yaml-source.ts';

/**
 * The one owning-file entry a follower's target selects: its scalar fields (nested ones dotted) feed
 * `${target.<field>}`.
 */
export type TargetEntry = Readonly<Record<string, string | number | boolean>>;

export type Resolution = { entry: TargetEntry } | { issues: ConfigIssue[] };

// Resolves `target.configRefcollectionselector` to exactly one entry of the owning file.
// The owning file keeps the runtime, GitOps and Secret details; the registry only points at them.
export function resolveTarget(
  registry: YamlSource,
  root: string,
  followerPath: YamlPath,
  target: FollowerConfig['target'],
  cache: Map<string, YamlSource | ConfigIssue>,
): Resolution {
  const at = (sub: string, message: string) => registry.issue([...followerPath, 'target', sub], message);
  const ref = target.configRef;
  const norm = normalize(ref);
  if (isAbsolute(ref) || norm === '..' || norm.startsWith(`..${sep}`)) {
    return { issues: [at('configRef', `"${ref}" must be a relative path inside configRoot`)] };
  }
  let owning = cache.get(norm);
  if (!owning) {
    owning = YamlSource.read(join(root, norm), norm);
    cache.set(norm, owning);
  }
  if (!(owning instanceof YamlSource)) {
    return { issues: [at('configRef', `"${ref}": ${owning.message}`)] };
  }
  const syntax = owning.syntaxIssues();
  if (syntax.length > 0) return { issues: syntax };

  const data = owning.data as Record<string, unknown> | null;
  const list = data !== null && typeof data === 'object' ? data[target.collection] : undefined;
  if (!Array.isArray(list)) {
    const got = list === undefined ? 'has no such top-level key' : 'is not a list';
    return { issues: [at('collection', `"${target.collection}" in ${norm} ${got}`)] };
  }
  const wanted = Object.entries(target.selector);
  const matches = list
    .map((entry, index) => ({ entry: entry as Record<string, unknown>, index }))
    .filter(({ entry }) => entry !== null && typeof entry === 'object' && wanted.every(([k, v]) => entry[k] === v));
  const shown = wanted.map(([k, v]) => `${k}=${String(v)}`).join(',');
  if (matches.length !== 1) {
    const where =
      matches.length === 0
        ? `matches no entry of ${norm}#${target.collection}`
        : `matches ${matches.length} entries of ${norm}#${target.collection} (indexes ` +
          `${matches.map((m) => m.index).join(', ')}); it must select exactly one`;
    return { issues: [at('selector', `selector {${shown}} ${where}`)] };
  }
  return { entry: scalarFields(matches[0]!.entry) };
}

// The entry's scalar leaves; a nested mapping's leaves are named by their dotted path (gitMirror.gitopsRef).
function scalarFields(
  value: Record<string, unknown>,
  prefix = '',
  into: Record<string, string | number | boolean> = {},
) {
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') into[`${prefix}${k}`] = v;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v))
      scalarFields(v as Record<string, unknown>, `${prefix}${k}.`, into);
  }
  return into;
}
