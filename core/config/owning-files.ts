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
  const key = selectorKey(wanted);
  const found =
    key === undefined ? [] : (index(owning, target.collection, list, Object.keys(target.selector)).get(key) ?? []);
  const matches = found.map((i) => ({ entry: list[i] as Record<string, unknown>, index: i }));
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

// Each follower's selector is looked up in an index of its owning file's entries, built once per
// (file, collection, selector fields), so selecting for n followers reads each file once, not n times.
const indexes = new WeakMap<YamlSource, Map<string, Map<string, number[]>>>();

function index(
  owning: YamlSource,
  collection: string,
  list: readonly unknown[],
  fields: readonly string[],
): ReadonlyMap<string, number[]> {
  const sorted = [...fields].sort();
  const id = JSON.stringify([collection, sorted]);
  const byFile = indexes.get(owning) ?? new Map<string, Map<string, number[]>>();
  indexes.set(owning, byFile);
  const known = byFile.get(id);
  if (known) return known;
  const byKey = new Map<string, number[]>();
  list.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object') return;
    const key = selectorKey(sorted.map((k) => [k, (entry as Record<string, unknown>)[k]]));
    if (key === undefined) return;
    const at = byKey.get(key);
    if (at) at.push(i);
    else byKey.set(key, [i]);
  });
  byFile.set(id, byKey);
  return byKey;
}

// The values of the selector fields, in field-name order, as one string; undefined when a value is not
// a scalar a selector can hold (such an entry is selected by nothing). JSON keeps 1, "1" and true apart,
// as the `===` of a selector match does.
function selectorKey(pairs: readonly (readonly [string, unknown])[]): string | undefined {
  const values: unknown[] = [];
  for (const [, v] of [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const scalar = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!scalar) return undefined;
    values.push(v);
  }
  return JSON.stringify(values);
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
