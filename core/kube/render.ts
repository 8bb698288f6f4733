import type { Pair } from 'yaml';
import { yamlText } from '../output/yaml-text.ts';
import type { Manifest } from './manifest.ts';

// Keys Kubernetes users expect on top; everything else is alphabetical, so output never depends on
// the order objects were built in.
const FIRST = ['apiVersion', 'kind', 'metadata', 'name', 'namespace'];

function keyRank(key: string): number {
  const i = FIRST.indexOf(key);
  return i < 0 ? FIRST.length : i;
}

function compareEntries(a: Pair, b: Pair): number {
  const ka = String((a.key as { value?: unknown })?.value ?? a.key);
  const kb = String((b.key as { value?: unknown })?.value ?? b.key);
  return keyRank(ka) - keyRank(kb) || (ka < kb ? -1 : ka > kb ? 1 : 0);
}

/** One manifest as YAML: byte-identical for the same input on every run and machine. */
export function renderManifest(m: Manifest): string {
  return yamlText(m, { sortMapEntries: compareEntries, lineWidth: 0, minContentWidth: 0, indent: 2 });
}

/** The dist/ file name of a manifest: kind and name, lower-case, no hashes, no counters. */
export function manifestFileName(m: Manifest): string {
  return `${m.kind.toLowerCase()}-${m.metadata.name}.yaml`;
}
