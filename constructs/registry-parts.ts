// How the registry file is carried by ConfigMaps without meeting Kubernetes' 1 MiB object limit:
// its text, cut at line boundaries into parts, one ConfigMap per part. Pure: the chart makes the
// ConfigMaps from it, the runner pod mounts them and puts the file back together from it.
//
// One part (the file fits): ConfigMap `<configMaps.registry>`, key `<file>` — the layout from before
// parts, so a small registry synthesizes exactly as it always did and the pod mounts the key over the
// clone's file. Several parts: ConfigMaps `<configMaps.registry>-0` … `-<n-1>`, each with the one key
// `<file>.part-<k>` (k zero-padded to 3 digits, so `ls` and `cat` take them in order too). The names
// never overlap: a ConfigMap named `<configMaps.registry>` always holds the whole file.

/**
 * The most a part may weigh, counted as the part's text weighs inside the JSON of its ConfigMap (every
 * character as JSON escapes it). The API server refuses a ConfigMap whose data passes 1 MiB and etcd
 * stores the object beside its metadata; 384 KiB of data keeps every ConfigMap, metadata included,
 * below half the limit (512 KiB), however many quotes or control characters the text holds.
 */
export const REGISTRY_PART_BYTES = 384 * 1024;

/** One ConfigMap carrying (part of) the registry file. */
export interface RegistryPartRef {
  /** The ConfigMap's name. */
  readonly configMapName: string;
  /** Its one data key. */
  readonly key: string;
}

/** What one line costs inside a JSON string: its UTF-8 bytes, each escaped character as its escape. */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/**
 * The registry text cut at line boundaries into parts of at most `REGISTRY_PART_BYTES` each (as JSON
 * counts them); their concatenation is the text, byte for byte. A text that fits is one part. A single
 * line longer than a part cannot be cut at a line boundary and is refused.
 */
export function splitRegistryText(text: string, partBytes: number = REGISTRY_PART_BYTES): string[] {
  if (jsonBytes(text) <= partBytes) return [text];
  const parts: string[] = [];
  let current: string[] = [];
  let size = 0;
  // Every line keeps its own "\n"; only the last may lack one.
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const cost = jsonBytes(line);
    if (cost > partBytes)
      throw new Error(
        `the registry has a line of ${cost} bytes (as JSON counts them): more than a registry ConfigMap part ` +
          `holds (${partBytes})`,
      );
    if (size + cost > partBytes) {
      parts.push(current.join(''));
      current = [];
      size = 0;
    }
    current.push(line);
    size += cost;
  }
  if (current.length > 0) parts.push(current.join(''));
  return parts;
}

/** The ConfigMaps of a registry of `count` parts, in order (see the layout above). */
export function registryPartRefs(configMapName: string, key: string, count: number): RegistryPartRef[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`a registry has at least one part, got ${count}`);
  if (count === 1) return [{ configMapName, key }];
  return Array.from({ length: count }, (_, k) => ({
    configMapName: `${configMapName}-${k}`,
    key: `${key}.part-${String(k).padStart(3, '0')}`,
  }));
}
