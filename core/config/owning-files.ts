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
  const found = lookup(owning, target.collection, list, target.selector);
  if (found.length !== 1) {
    const shown = Object.entries(target.selector)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    const where =
      found.length === 0
        ? `matches no entry of ${norm}#${target.collection}`
        : `matches ${found.length} entries of ${norm}#${target.collection} (indexes ` +
          `${found.join(', ')}); it must select exactly one`;
    return { issues: [at('selector', `selector {${shown}} ${where}`)] };
  }
  return { entry: scalarFields(list[found[0]!] as Record<string, unknown>) };
}

// Each follower's selector is looked up in an index of its owning file's entries, built once per
// (file, collection, selector fields), so selecting for n followers reads each file once, not n times.
interface Index {
  /** The selector fields, in name order: the order of a key's values. */
  readonly fields: readonly string[];
  readonly byKey: ReadonlyMap<string, number[]>;
}
const indexes = new WeakMap<YamlSource, Map<string, Index>>();

/** The indexes of the entries `selector` matches (by `===` on every field), in file order. */
function lookup(
  owning: YamlSource,
  collection: string,
  list: readonly unknown[],
  selector: Readonly<Record<string, unknown>>,
): readonly number[] {
  const names = Object.keys(selector);
  // Found by the fields as the selector lists them (the common case: every selector lists them alike);
  // another order of the same fields builds the same index under its own name.
  const id = `${collection}\0${names.join('\0')}`;
  let byFile = indexes.get(owning);
  if (!byFile) {
    byFile = new Map();
    indexes.set(owning, byFile);
  }
  let index = byFile.get(id);
  if (!index) {
    index = build(list, [...names].sort());
    byFile.set(id, index);
  }
  const key = selectorKey(index.fields.map((k) => selector[k]));
  return key === undefined ? [] : (index.byKey.get(key) ?? []);
}

function build(list: readonly unknown[], fields: readonly string[]): Index {
  const byKey = new Map<string, number[]>();
  list.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object') return;
    const key = selectorKey(fields.map((k) => (entry as Record<string, unknown>)[k]));
    if (key === undefined) return;
    const at = byKey.get(key);
    if (at) at.push(i);
    else byKey.set(key, [i]);
  });
  return { fields, byKey };
}

// The values of the selector fields, in field-name order, as one string; undefined when a value is not
// a scalar a selector can hold (such an entry is selected by nothing). JSON keeps 1, "1" and true apart,
// as the `===` of a selector match does.
function selectorKey(values: readonly unknown[]): string | undefined {
  for (const v of values) {
    const scalar = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!scalar) return undefined;
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
