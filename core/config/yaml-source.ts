import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node } from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import { shownValue, valueAt } from './issue-value.ts';
import { NOT_PLAIN, parsePlainYaml } from './plain-yaml.ts';

// yaml is loaded only when a document with positions is needed: a text outside the plain subset, or a
// problem to report. A valid plain registry (every registry the CLI writes, and the usual hand-written
// one) never pays for its import. require() gets the same module an `import` of yaml does.
const require = createRequire(import.meta.url);
const yaml = () => require('yaml') as typeof import('yaml');

export type YamlPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `followers[0].closeout.budgetSeconds` from `['followers', 0, 'closeout', 'budgetSeconds']`. */
export function formatPath(path: YamlPath): string {
  if (path.length === 0) return '(document)';
  return path
    .map((seg, i) =>
      typeof seg === 'number'
        ? `[${seg}]`
        : !PLAIN_KEY.test(seg)
          ? `[${JSON.stringify(seg)}]`
          : i === 0
            ? seg
            : `.${seg}`,
    )
    .join('');
}

// A YAML file parsed with positions, so every problem can name file:line:column, not just a path.
// Plain YAML (plain-yaml.ts) is read fast and its positions are found only when a problem is reported:
// the document with positions is parsed then, from the same text, by the same rules as any other file.
export class YamlSource {
  readonly file: string;
  readonly text: string;
  readonly data: unknown;
  private parsed: { doc: Document; lines: LineCounter; aliases: number[] } | undefined;

  private constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    const plain = parsePlainYaml(text);
    if (plain !== NOT_PLAIN) {
      this.data = plain;
    } else {
      const { doc, aliases } = this.positions();
      this.data = doc.errors.length === 0 && aliases.length === 0 ? doc.toJS() : undefined;
    }
  }

  // The document with positions, parsed on first use.
  private positions(): { doc: Document; lines: LineCounter; aliases: number[] } {
    if (this.parsed) return this.parsed;
    const { LineCounter, parseDocument, visit } = yaml();
    const lines = new LineCounter();
    // uniqueKeys: a key given twice is an error, never "the last one wins".
    const doc = parseDocument(this.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    // Offsets of every alias (`*name`): each field is written out, so a reader sees it where it applies.
    const aliases: number[] = [];
    visit(doc, {
      Alias: (_, node) => {
        aliases.push(node.range?.[0] ?? 0);
      },
    });
    this.parsed = { doc, lines, aliases };
    return this.parsed;
  }

  /** Reads and parses a file; an unreadable file is reported as an issue, never thrown raw. */
  static read(file: string, displayName: string): YamlSource | ConfigIssue {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
      const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : code;
      return { file: displayName, path: '(file)', line: 0, column: 0, message: `cannot read: ${why}` };
    }
    return new YamlSource(displayName, text);
  }

  static fromText(text: string, displayName: string): YamlSource {
    return new YamlSource(displayName, text);
  }

  /** Syntax errors (and aliases, which a registry does not need), each with its position. */
  syntaxIssues(): ConfigIssue[] {
    // Plain YAML has neither, by the promise of its reader.
    if (!this.parsed) return [];
    const { doc, lines, aliases } = this.parsed;
    const at = (offset: number, message: string): ConfigIssue => {
      const pos = lines.linePos(offset);
      return { file: this.file, path: '(syntax)', line: pos.line, column: pos.col, message };
    };
    return [
      ...doc.errors.map((e) =>
        e.code === 'DUPLICATE_KEY'
          ? at(e.pos[0], `duplicate key ${JSON.stringify(this.keyAt(e.pos[0]))}: a key may appear once in a mapping`)
          : at(e.pos[0], e.message.split('\n')[0] ?? e.message),
      ),
      ...aliases.map((offset) => at(offset, 'aliases (*name) are not allowed here: write the value out')),
    ];
  }

  /** The key written at `offset` (up to its colon), for an error that points at it. */
  private keyAt(offset: number): string {
    const rest = this.text.slice(offset, offset + 200);
    const end = rest.search(/:(?:\s|$)|\n/);
    return (end < 0 ? rest : rest.slice(0, end)).trim();
  }

  /**
   * An issue at `path`. When the path does not exist (a missing key), it points at the nearest
   * existing parent; with `atKey`, at the key itself rather than its value (unknown keys).
   */
  issue(path: YamlPath, message: string, opts: { atKey?: boolean } = {}): ConfigIssue {
    const offset = this.offsetOf(path, opts.atKey === true);
    const pos = this.positions().lines.linePos(offset);
    // The value at the path, where there is one (an unknown key is itself the bad input, and named).
    const value = opts.atKey ? undefined : shownValue(path, valueAt(this.data, path));
    return {
      file: this.file,
      path: formatPath(path),
      line: pos.line,
      column: pos.col,
      message,
      ...(value === undefined ? {} : { value }),
    };
  }

  private offsetOf(path: YamlPath, atKey: boolean): number {
    const { isMap, isScalar, isSeq } = yaml();
    let node: Node | null | undefined = this.positions().doc.contents as Node | null;
    let offset = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return offset;
        const keyNode = pair.key as Node;
        if (last && atKey) return keyNode.range?.[0] ?? offset;
        node = pair.value as Node | null;
        offset = node?.range?.[0] ?? keyNode.range?.[0] ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) return offset;
        node = item;
        offset = item.range?.[0] ?? offset;
      } else {
        return offset;
      }
    }
    return offset;
  }
}
