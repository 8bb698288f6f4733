import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.ts';

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
export class YamlSource {
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  readonly data: unknown;
  private readonly lines: LineCounter;
  /** Offsets of every alias (`*name`): each field is written out, so a reader sees it where it applies. */
  private readonly aliases: number[];

  private constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    this.lines = new LineCounter();
    // uniqueKeys: a key given twice is an error, never "the last one wins".
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
    this.aliases = [];
    visit(this.doc, {
      Alias: (_, node) => {
        this.aliases.push(node.range?.[0] ?? 0);
      },
    });
    this.data = this.doc.errors.length === 0 && this.aliases.length === 0 ? this.doc.toJS() : undefined;
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
    const at = (offset: number, message: string): ConfigIssue => {
      const pos = this.lines.linePos(offset);
      return { file: this.file, path: '(syntax)', line: pos.line, column: pos.col, message };
    };
    return [
      ...this.doc.errors.map((e) => at(e.pos[0], e.message.split('\n')[0] ?? e.message)),
      ...this.aliases.map((offset) => at(offset, 'aliases (*name) are not allowed here: write the value out')),
    ];
  }

  /**
   * An issue at `path`. When the path does not exist (a missing key), it points at the nearest
   * existing parent; with `atKey`, at the key itself rather than its value (unknown keys).
   */
  issue(path: YamlPath, message: string, opts: { atKey?: boolean } = {}): ConfigIssue {
    const offset = this.offsetOf(path, opts.atKey === true);
    const pos = this.lines.linePos(offset);
    return { file: this.file, path: formatPath(path), line: pos.line, column: pos.col, message };
  }

  private offsetOf(path: YamlPath, atKey: boolean): number {
    let node: Node | null | undefined = this.doc.contents as Node | null;
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
