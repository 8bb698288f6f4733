import { createHash } from 'node:crypto';
import type { KubeObject } from './client.ts';

/** Fields the server owns: never drift, never shown in a diff. */
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'generation',
  'creationTimestamp',
  'selfLink',
] as const;

/** A value's fingerprint: enough to tell two values apart, nothing of the value itself. */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

// What of an object is ours to compare: without server-owned metadata and status, and with every
// Secret value replaced by its fingerprint so no output can ever carry one.
export function normalize(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  for (const field of SERVER_METADATA) delete copy.metadata[field];
  delete copy.status;
  if (copy.kind === 'Secret') {
    for (const key of ['data', 'stringData'] as const) {
      const values = copy[key] as Record<string, string> | undefined;
      if (values) copy[key] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, `(${fingerprint(v)})`]));
    }
  }
  return copy;
}
