import { readFileSync } from 'node:fs';
import type { LoadedRegistry } from '../core/config/load.ts';
import { secretLiterals, type SecretLiterals } from './adapters/redact.ts';
import { declaredMounts, sshKeyFiles, type StageMounts } from './git-mirror/stages.ts';

// A Secret value has no shape the redaction patterns could know it by: the values of the Secret keys
// mounted for the pass are read here, once per pass, so the policy can redact them literally and stay
// pure. Today that is the githubSsh identity; its known_hosts lines are public and stay readable.
// The values are only ever handed to the policy: never shown, logged or put in an error.

/** The literal forms of the mounted Secret values; a key that is not mounted here adds nothing. */
export function mountedSecretLiterals(
  loaded: LoadedRegistry,
  mounts: StageMounts = declaredMounts(loaded),
): SecretLiterals {
  const values: string[] = [];
  for (const file of [sshKeyFiles(loaded, mounts).identityFile]) {
    try {
      values.push(readFileSync(file, 'utf8'));
    } catch {
      // Not mounted here, or not readable by this process: the pass cannot hold it, and sync says why.
    }
  }
  return secretLiterals(values);
}
