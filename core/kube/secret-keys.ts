import { KubeError } from '../errors.ts';
import type { KubeClient } from './client.ts';
import { fingerprint } from './normalize.ts';
import { resourceType } from './resources.ts';

/** One Secret as status output may use it: its keys, or why it cannot be read. Values never leave this module. */
export type SecretView =
  | { readonly keys: ReadonlyMap<string, string> }
  | { readonly absent: true }
  | { readonly forbidden: true };

/** Reads a Secret once (absent and forbidden are answers, not errors). */
export async function readSecret(client: KubeClient, namespace: string, name: string): Promise<SecretView> {
  try {
    const secret = await client.get(resourceType('v1', 'Secret'), namespace, name);
    if (!secret) return { absent: true };
    return { keys: new Map(Object.entries((secret.data as Record<string, string> | undefined) ?? {})) };
  } catch (err) {
    if (err instanceof KubeError && err.status === 403) return { forbidden: true };
    throw err;
  }
}

/** What may be said of one key: present or why not, and the redacted fingerprint of its value. */
export interface KeyPresence {
  readonly present: boolean;
  /** `sha256:<16 hex>` of the value, or null when it is not there (or cannot be read). */
  readonly fingerprint: string | null;
  /** Why it is not present, in words; null when it is. */
  readonly missing: string | null;
}

export function keyPresence(
  secret: SecretView,
  ref: { namespace: string; name: string; key: string },
  user: string,
): KeyPresence {
  if ('forbidden' in secret)
    return { present: false, fingerprint: null, missing: `unknown (user "${user}" may not read Secrets)` };
  if ('absent' in secret)
    return { present: false, fingerprint: null, missing: `no Secret ${ref.namespace}/${ref.name}` };
  const value = secret.keys.get(ref.key);
  if (value === undefined)
    return { present: false, fingerprint: null, missing: `Secret ${ref.namespace}/${ref.name} has no key ${ref.key}` };
  return { present: true, fingerprint: fingerprint(Buffer.from(value, 'base64').toString('utf8')), missing: null };
}
