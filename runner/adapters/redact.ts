// Adapter output and errors are shown to people and stored in events; anything that looks like a
// credential, and any literal value of a Secret key the pass has mounted, is replaced before it
// leaves the adapter boundary, and again at the pass's edges (runner/redacted-pass.ts). Pure:
// strings (and the literals, read by the caller) in, strings out.

export const REDACTED = '[REDACTED]';

/** A line of a Secret value shorter than this is not redacted on its own: it could be anyone's text. */
const MIN_LITERAL_CHARS = 12;
/** ... nor one with fewer distinct characters than this (`============`, `AAAAAAAAAAAAAAAA`). */
const MIN_LITERAL_DISTINCT = 6;
/** PEM armour is the same in every key of its kind: never a secret of its own. */
const ARMOUR = /^-----(?:BEGIN|END) [A-Z0-9 ]+-----$/;

/** The literal forms of Secret values to redact, longest first; made only by {@link secretLiterals}. */
export type SecretLiterals = readonly string[] & { readonly __secretLiterals: true };

const asLiterals = (forms: string[]) => forms as unknown as SecretLiterals;

/** No Secret value is known (e.g. nothing is mounted here): only the patterns apply. */
export const NO_LITERALS: SecretLiterals = asLiterals([]);

const distinct = (s: string) => new Set(s).size;
/** How `s` reads inside a JSON string (quotes, backslashes and newlines escaped). */
const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);

// The forms in which Secret values the pass knows (the mounted Secret keys) can show up in what it
// prints: each value whole, and each of its lines that is long and varied enough to be its own (a
// key's base64 lines; never a blank line or the armour), each as it is and as it reads inside a
// JSON string. Longest first, so a whole value goes before the lines inside it.
export function secretLiterals(values: readonly string[]): SecretLiterals {
  const forms = new Set<string>();
  const add = (s: string) => {
    if (s.length < MIN_LITERAL_CHARS || distinct(s) < MIN_LITERAL_DISTINCT || ARMOUR.test(s)) return;
    forms.add(s);
    forms.add(jsonEscaped(s));
  };
  for (const value of values) {
    const whole = value.trim();
    add(whole);
    for (const line of whole.split(/\r?\n/)) add(line.trim());
  }
  return asLiterals([...forms].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)));
}

/** Key names whose values are secrets (matched anywhere inside an identifier, any case). */
const SECRET_KEY = 'password|passwd|passphrase|secret|token|credentials?|api[_-]?key|private[_-]?key|access[_-]?key';
const KEY = `[A-Za-z0-9_.-]*(?:${SECRET_KEY})[A-Za-z0-9_.-]*`;

/**
 * A whole private key block; one cut short (no END line, e.g. truncated output) runs to the end of the
 * text, or of the JSON string it stands in (a key block never holds a quote, escaped or not), so JSON
 * stays JSON.
 */
const PRIVATE_KEY_BLOCK =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|(?=\\?")|$)/g;
const GITHUB_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g;
/** `Authorization: Bearer x`, `"authorization": "token x"`, `Authorization=Basic x`. */
const AUTHORIZATION = /(authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)\s+)[^\s"',;\\]+/gi;
/** `scheme://user:password@host`: the password only. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s/@]+@/gi;
/** `"key": "value"` or `'key': 'value'` (JSON and friends): only string values, so JSON stays JSON. */
const QUOTED_PAIR = new RegExp(`((["'])${KEY}\\2\\s*:\\s*)("(?:[^"\\\\\\n]|\\\\.)*"|'[^'\\n]*')`, 'gi');
/**
 * `key=value`, `key: value`, `key = "value"` with a bare key, also inside a JSON string (where quotes
 * are escaped, `\"value\"`). A bare value never takes a backslash, so an escape is never cut in half.
 */
const BARE_PAIR = new RegExp(
  `((?<![A-Za-z0-9_.\\-])${KEY}\\s*[=:]\\s*)(\\\\"(?:[^"\\\\]|\\\\[^"])*\\\\"|"(?:[^"\\\\\\n]|\\\\.)*"|'[^'\\n]*'|[^\\s,;&"'<>{}\\[\\]\\\\]+)`,
  'gi',
);

/** `--token X`, `-password X`: a flag named for a secret, then its value as the next argv word. */
const ARGV_PAIR = new RegExp(
  `((?<![A-Za-z0-9_.\\-])--?${KEY}[ \\t]+)([^\\s"'<>{}\\[\\],;&\\\\-][^\\s"'<>{}\\[\\],;&\\\\]*)`,
  'gi',
);
/** `token%3DX`, `password%3AX`: a key and its value inside a URL-encoded query or form. */
const URL_ENCODED_PAIR = new RegExp(`((?<![A-Za-z0-9_.\\-])${KEY}(?:%3D|%3A))([^&\\s"'\\\\]+)`, 'gi');
/** `bearer X` on its own (a header value without its name). */
const BEARER = /(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/**
 * What every shape above holds somewhere (any case): text without one of these has no shape to
 * redact, and most adapter output (compact status JSON) has none, so the shapes are not run on it.
 * A replacement never makes one: what it takes out is put back as `[REDACTED]`, brackets included.
 */
const SHAPE_HINT = new RegExp(`-----BEGIN |authorization|gh[pousr]_|github_pat_|://|bearer|${SECRET_KEY}`, 'i');

/** Replaces a value, keeping its quotes so quoted syntax (JSON) stays valid. */
function redactValue(prefix: string, value: string): string {
  if (value.startsWith('\\"')) return `${prefix}\\"${REDACTED}\\"`;
  const q = value[0];
  if ((q === '"' || q === "'") && value.length >= 2) return `${prefix}${q}${REDACTED}${q}`;
  return `${prefix}${REDACTED}`;
}

/** Every occurrence of a literal, longest first. */
function redactLiterals(text: string, literals: SecretLiterals): string {
  let out = text;
  for (const literal of literals) if (out.includes(literal)) out = out.replaceAll(literal, REDACTED);
  return out;
}

// The one place secret material is recognised: the known literals, then the secret-looking shapes;
// used on every argv, stdout and stderr, and on everything the pass records or prints.
export function redactSecrets(text: string, literals: SecretLiterals = NO_LITERALS): string {
  const plain = redactLiterals(text, literals);
  if (!SHAPE_HINT.test(plain)) return plain;
  return plain
    .replace(PRIVATE_KEY_BLOCK, REDACTED)
    .replace(AUTHORIZATION, (_m, prefix: string) => `${prefix}${REDACTED}`)
    .replace(GITHUB_TOKEN, REDACTED)
    .replace(URL_CREDENTIALS, (_m, prefix: string) => `${prefix}${REDACTED}@`)
    .replace(QUOTED_PAIR, (_m, prefix: string, _q: string, value: string) => redactValue(prefix, value))
    .replace(BARE_PAIR, (_m, prefix: string, value: string) => redactValue(prefix, value))
    .replace(ARGV_PAIR, (_m, prefix: string) => `${prefix}${REDACTED}`)
    .replace(URL_ENCODED_PAIR, (_m, prefix: string) => `${prefix}${REDACTED}`)
    .replace(BEARER, (_m, prefix: string) => `${prefix}${REDACTED}`);
}

// Every string of a value, redacted: of a parsed answer again, since inside a JSON string the raw
// output escapes its quotes and newlines, so a secret nested there (`"message": "{\"password\":
// \"x\"}"`) only shows its shape once parsed; and of what the pass records (records, Events, results).
export function redactStrings<T>(value: T, literals: SecretLiterals = NO_LITERALS): T {
  if (typeof value === 'string') return redactSecrets(value, literals) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactStrings(v, literals)) as T;
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, redactStrings(v, literals)])) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v, literals)])) as T;
  }
  return value;
}

// Errors keep only the end of an output, where a failing command says why; never split a character.
export function tail(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - Math.max(0, maxBytes);
  // Skip UTF-8 continuation bytes (10xxxxxx) so the tail starts on a character boundary.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return new TextDecoder().decode(bytes.subarray(start));
}

/** The last `n` lines of a text (without a trailing empty line). */
export function lastLines(text: string, n: number): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n);
}
