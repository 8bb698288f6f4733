import { redactSecrets, type SecretLiterals } from './redact.ts';

// An error is shown (its message, with --debug its stack) and may carry a child's whole output
// (execa's stdout, stderr, command): every string it holds goes through the redaction policy before
// it can be shown or kept.

const decoder = new TextDecoder();
const text = (v: string | Uint8Array): string => (typeof v === 'string' ? v : decoder.decode(v));
const isText = (v: unknown): v is string | Uint8Array => typeof v === 'string' || v instanceof Uint8Array;

/** Redacts, in place, every string an error (and its cause chain) carries: message, stack, output, argv. */
export function scrubError(error: object, literals: SecretLiterals, seen = new Set<object>()): void {
  if (seen.has(error)) return;
  seen.add(error);
  const record = error as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(error)) {
    const value = record[key];
    let next: unknown = value;
    if (isText(value)) next = redactSecrets(text(value), literals);
    else if (Array.isArray(value)) {
      next = value.map((v: unknown) => (isText(v) ? redactSecrets(text(v), literals) : v));
      for (const v of value) if (v !== null && typeof v === 'object' && !isText(v)) scrubError(v, literals, seen);
    } else if (value instanceof Error) scrubError(value, literals, seen);
    if (next === value) continue;
    try {
      record[key] = next;
    } catch {
      // A read-only property: drop it rather than keep a secret.
      try {
        delete record[key];
      } catch {
        /* nothing more can be done */
      }
    }
  }
}
