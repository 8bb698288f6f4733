// A fast reader of the plain YAML a registry and its owning files are written in, so that loading
// 10,000 followers does not pay for a document with positions (the `yaml` library's Document is about
// ten times slower). Its one promise: when it returns a value, the `yaml` library (YAML 1.2, core
// schema, unique keys) would parse the same text without an error or alias to the same value. On
// anything outside the plain subset it returns NOT_PLAIN, and the caller parses with `yaml` itself.
//
// The subset: ASCII text without tabs or carriage returns; block mappings with plain keys and block
// sequences (`- `, a mapping may start on the dash's line); scalars on one line: plain, '…' and "…"
// (no backslash escapes); flow collections `{ k: v }` and `[a, b]` that close on their line; comments.
// Not in it (NOT_PLAIN): anchors, aliases, tags, document markers, directives, block scalars (| >),
// multi-line scalars, explicit and quoted keys, keys that are not strings, empty values, numbers other
// than plain decimals, duplicate keys.

export const NOT_PLAIN: unique symbol = Symbol('not plain YAML');

const SAFE_TEXT = /^[\x20-\x7e\n]*$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^(?:0|[1-9][0-9]{0,14})$/;
// Every other scalar the core schema resolves to a number (octal, hex, signed or zero-led, floats, .inf).
const OTHER_NUMBER =
  /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/;
// A plain scalar may not start with an indicator, except '-', '?' or ':' before a character that is
// neither a space nor a flow indicator (`--node`).
const PLAIN_START = /^(?:[^-?:,[\]{}#&*!|>'"%@`\s]|[-?:][^\s,[\]{}])/;
const MAX_KEY = 1000;
// What ends a plain scalar inside a flow collection.
const FLOW_END = /[,[\]{}]/g;

class NotPlain extends Error {}
const fail = (): never => {
  throw new NotPlain();
};

interface Line {
  readonly indent: number;
  /** The line without its indentation, its comment and trailing spaces. */
  readonly text: string;
}

/** The value of `text`, or NOT_PLAIN when it is not in the subset. */
export function parsePlainYaml(text: string): unknown {
  if (!SAFE_TEXT.test(text)) return NOT_PLAIN;
  try {
    const reader = new Reader(text);
    if (reader.line === undefined) return NOT_PLAIN;
    const value = reader.block(0);
    if (reader.line !== undefined) fail();
    return value;
  } catch (err) {
    if (err instanceof NotPlain) return NOT_PLAIN;
    throw err;
  }
}

// Cuts a ` #` comment that is outside quotes; quotes are only tracked where a scalar can start.
function stripComment(s: string): string {
  let quote = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 35 /* # */ && i > 0 && s.charCodeAt(i - 1) === 32) {
      return s.slice(0, i).trimEnd();
    } else if ((c === 34 /* " */ || c === 39) /* ' */ && (i === 0 || QUOTE_AFTER.has(s.charCodeAt(i - 1)))) {
      quote = c;
    }
  }
  if (quote !== 0) fail();
  return s.trimEnd();
}

/** The characters after which a quote starts a quoted scalar: space, '[', '{', ',' and ':'. */
const QUOTE_AFTER = new Set([32, 91, 123, 44, 58]);

// Reads the lines one at a time, as the parse moves on (the parse looks one line ahead at most), so no
// array of every line is built and kept for the length of the parse.
class Reader {
  /** The current content line, or undefined past the last one. */
  line: Line | undefined;
  private readonly text: string;
  /** Where the line after the current one starts. */
  private next = 0;
  constructor(text: string) {
    this.text = text;
    this.advance();
  }

  /** Moves to the next content line: blank and comment-only lines carry nothing; a content line loses its comment. */
  private advance(): void {
    const text = this.text;
    for (let start = this.next; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      let at = start;
      while (text.charCodeAt(at) === 32) at++;
      if (at < end && text.charCodeAt(at) !== 35 /* # */) {
        if (at === start && (text.startsWith('---', at) || text.startsWith('...', at) || text[at] === '%')) fail();
        const raw = text.slice(at, end);
        this.next = end + 1;
        this.line = {
          indent: at - start,
          text: raw.includes('#') || raw.includes("'") || raw.includes('"') ? stripComment(raw) : raw.trimEnd(),
        };
        return;
      }
      start = end + 1;
    }
    this.next = text.length;
    this.line = undefined;
  }

  /** The block node whose first line is at `indent` (a mapping or a sequence). */
  block(indent: number): unknown {
    const line = this.line;
    if (!line || line.indent !== indent) fail();
    return isDash(line!.text) ? this.sequence(indent) : this.mapping(indent, line!.text);
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (let line = this.line; line && line.indent === indent && isDash(line.text); line = this.line) {
      let rest = line.text.slice(1);
      const pad = rest.length - rest.trimStart().length;
      rest = rest.slice(pad);
      if (pad === 0 || rest === '' || isDash(rest)) fail();
      if (keyOf(rest) !== undefined) {
        out.push(this.mapping(indent + 1 + pad, rest));
      } else {
        this.advance();
        out.push(scalarOrFlow(rest));
        this.endOfValue(indent);
      }
    }
    return out;
  }

  /** A mapping at `indent`; `first` is its first line's text (it may follow a dash). */
  private mapping(indent: number, first: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let text: string | undefined = first;
    while (text !== undefined) {
      const key = keyOf(text) ?? fail();
      if (Object.hasOwn(out, key)) fail();
      const rest = text.slice(key.length + 1).trimStart();
      this.advance();
      if (rest === '') {
        const child: Line | undefined = this.line;
        const nested =
          child !== undefined && (child.indent > indent || (child.indent === indent && isDash(child.text)));
        if (!nested) fail(); // an empty value
        out[key] = this.block(child!.indent);
      } else {
        out[key] = scalarOrFlow(rest);
        this.endOfValue(indent);
      }
      const after: Line | undefined = this.line;
      if (after && after.indent > indent) fail();
      text = after && after.indent === indent && !isDash(after.text) ? after.text : undefined;
    }
    return out;
  }

  // A value on one line is all of it: a more indented line after it would continue a scalar or be an error.
  private endOfValue(indent: number): void {
    const next = this.line;
    if (next && next.indent > indent) fail();
  }
}

const isDash = (text: string): boolean => text === '-' || text.startsWith('- ');

/** The plain key a `key: …` or `key:` line starts with, or undefined. */
function keyOf(text: string): string | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0 || (colon + 1 < text.length && text[colon + 1] !== ' ')) return undefined;
  const key = text.slice(0, colon);
  if (
    !KEY.test(key) ||
    key.length > MAX_KEY ||
    key === '__proto__' ||
    (!plainString(key.charCodeAt(0)) && (NULL.test(key) || BOOL.test(key)))
  ) {
    return undefined;
  }
  return key;
}

function scalarOrFlow(text: string): unknown {
  if (text[0] === '[' || text[0] === '{') {
    const flow = new Flow(text);
    const value = flow.node();
    if (flow.at !== text.length) fail();
    return value;
  }
  if (text[0] === '"' || text[0] === "'") {
    const [value, end] = quoted(text, 0);
    if (end !== text.length) fail();
    return value;
  }
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) fail();
  return plain(text);
}

// A letter other than n, t and f (either case) starts neither null, a boolean nor a number: the scalar
// is the string itself, with no pattern to try (most scalars of a registry).
function plainString(c: number): boolean {
  const lower = c | 0x20;
  return lower >= 97 && lower <= 122 && lower !== 110 /* n */ && lower !== 116 /* t */ && lower !== 102; /* f */
}

function plain(s: string): unknown {
  if (plainString(s.charCodeAt(0))) return s;
  if (!PLAIN_START.test(s)) fail();
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT.test(s)) return Number(s);
  if (OTHER_NUMBER.test(s)) fail();
  return s;
}

/** A quoted scalar starting at `from`, and the index after its closing quote. */
function quoted(s: string, from: number): [string, number] {
  const q = s[from]!;
  let out = '';
  for (let i = from + 1; ; ) {
    const close = s.indexOf(q, i);
    if (close < 0) fail();
    out += s.slice(i, close);
    if (q === "'" && s[close + 1] === "'") {
      out += "'";
      i = close + 2;
    } else {
      if (q === '"' && out.includes('\\')) fail();
      return [out, close + 1];
    }
  }
}

// A flow collection on one line: `{ k: v, … }` or `[a, …]`, nested ones allowed, no trailing comma.
class Flow {
  at = 0;
  private readonly s: string;
  constructor(s: string) {
    this.s = s;
  }

  node(): unknown {
    const c = this.s[this.at];
    if (c === '[') return this.list(']', () => this.node());
    if (c === '{') {
      const out: Record<string, unknown> = {};
      this.list('}', () => {
        const start = this.at;
        while (this.at < this.s.length && this.s[this.at] !== ':') this.at++;
        const key = this.s.slice(start, this.at);
        if (this.s[this.at + 1] !== ' ' || !KEY.test(key) || key === '__proto__' || NULL.test(key) || BOOL.test(key)) {
          fail();
        }
        if (Object.hasOwn(out, key)) fail();
        this.at += 2;
        this.spaces();
        out[key] = this.node();
      });
      return out;
    }
    if (c === '"' || c === "'") {
      const [value, end] = quoted(this.s, this.at);
      this.at = end;
      return value;
    }
    const start = this.at;
    FLOW_END.lastIndex = start;
    this.at = FLOW_END.test(this.s) ? FLOW_END.lastIndex - 1 : this.s.length;
    const text = this.s.slice(start, this.at).trimEnd();
    // A ':' inside (a URL's) is part of the scalar; one before a space or at its end would make a key.
    if (text.includes(': ') || text.endsWith(':') || text.includes('#')) fail();
    return plain(text);
  }

  private list<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    this.at++; // the opening bracket
    this.spaces();
    if (this.s[this.at] === close) {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(item());
      this.spaces();
      const c = this.s[this.at];
      this.at++;
      if (c === close) return out;
      if (c !== ',') fail();
      this.spaces();
      if (this.s[this.at] === close) fail(); // a trailing comma
    }
  }

  private spaces(): void {
    while (this.s[this.at] === ' ') this.at++;
  }
}
