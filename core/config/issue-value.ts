import type { YamlPath } from './yaml-source.ts';

// The bad value an issue names, as the file holds it: a scalar, quoted as JSON, cut at MAX characters.
// A registry holds no secret (Secrets are named by name and key), but a value someone pasted by
// mistake may be one: a value under a key that names a credential, or one that looks like key
// material, is never shown.

const MAX = 80;
const SECRET_KEY = /token|password|passphrase|secret|credential|private|api[-_]?key|auth/i;
const KEY_MATERIAL = /-----BEGIN|^(?:ghp|gho|ghs|ghu|github_pat|glpat|xox[bpas])[-_]/;

/** The value to show for an issue at `path`, or undefined when there is none to show (or it may be secret). */
export function shownValue(path: YamlPath, value: unknown): string | undefined {
  if (path.some((seg) => typeof seg === 'string' && SECRET_KEY.test(seg))) return undefined;
  if (typeof value === 'string') {
    if (KEY_MATERIAL.test(value)) return undefined;
    const quoted = JSON.stringify(value);
    return quoted.length <= MAX ? quoted : `${quoted.slice(0, MAX - 2)}…"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return undefined;
}

/** The value at `path` in parsed YAML data; undefined where the path leads nowhere. */
export function valueAt(data: unknown, path: YamlPath): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
