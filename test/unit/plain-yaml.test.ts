import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument, visit } from 'yaml';
import { NOT_PLAIN, parsePlainYaml } from '../../core/config/plain-yaml.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';
import { AGENTRUN, HWLAB_LANES, SENTINELS } from '../helpers/registry-fixture.ts';

// The fast reader's one promise, checked against the `yaml` library itself: whatever it accepts, yaml
// parses without an error or alias to the same value. Everything else must come back NOT_PLAIN.

/** What the `yaml` library makes of `text`, as the registry loader asks it. */
function yamlOf(text: string): { ok: boolean; value: unknown } {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  let aliases = 0;
  visit(doc, { Alias: () => void aliases++ });
  const ok = doc.errors.length === 0 && aliases === 0;
  return { ok, value: ok ? doc.toJS() : undefined };
}

/** Asserts the promise for one text; true when the fast reader accepted it. */
function holds(text: string): boolean {
  const fast = parsePlainYaml(text);
  if (fast === NOT_PLAIN) return false;
  const slow = yamlOf(text);
  expect(slow.ok, `yaml rejects what the fast reader accepted:\n${text}`).toBe(true);
  expect(fast, `different values for:\n${text}`).toStrictEqual(slow.value);
  return true;
}

const SHIPPED = [REGISTRY, HWLAB_LANES, AGENTRUN, SENTINELS].map((f) => readFileSync(join(ROOT, f), 'utf8'));

describe('parsePlainYaml', () => {
  it('reads the shipped registry and owning files, to the values yaml reads', () => {
    for (const text of SHIPPED) expect(holds(text)).toBe(true);
  });

  it('reads the plain constructs and refuses the rest', () => {
    const accepted = [
      'a: 1\nb: true\nc: null\nd: ~\ne: text with spaces\n',
      'a:\n  - x\n  - --node\n  - ${target.node}\n',
      'a:\n- x\n- y\nb: 2\n',
      'list:\n  - id: a\n    n: 1\n  - id: b\n    m: { k: v, q: "1" }\n',
      "q: 'it''s'\nd: \"a # not a comment\"\ne: x # a comment\n",
      'f: [a, "b", [c, d], {e: f}]\ng: {}\nh: []\n',
      'u: git://host/path.git\nv: v0.3\nw: 50m\nx: 64Mi\ny: a,b\nz: refs/heads/x\n',
      '# a comment\n\nk: v\n   # an indented comment\nl: w\n',
      'nested:\n  deeper:\n    deepest: 0\n',
      'proxy: { mode: connect, url: http://proxy.local:3128 }\nl: [a:b, "c"]\n',
    ];
    for (const text of accepted) expect(holds(text), text).toBe(true);
    const refused = [
      'a: &x 1\nb: *x\n',
      'a: !tag 1\n',
      '---\na: 1\n',
      'a: |\n  block\n',
      'a: >\n  folded\n',
      'a: multi\n  line\n',
      'a:\nb: 1\n',
      'a: 1\na: 2\n',
      '"quoted key": 1\n',
      '? explicit\n: 1\n',
      'a: "esc\\n"\n',
      'a: 0x1f\nb: 1.5\n',
      'a: 010\n',
      'a: -1\n',
      'a: .inf\n',
      'a: [x, y,]\n',
      'a: [x,\n  y]\n',
      'a:\tb\n',
      'a: 1\r\n',
      'a: é\n',
      '1: one\n',
      'true: yes\n',
      '- - x\n',
      'a: b: c\n',
      'a: { k: v: w }\n',
      'a: [x:]\n',
      '  a: 1\nb: 2\n',
    ];
    for (const text of refused) expect(parsePlainYaml(text), text).toBe(NOT_PLAIN);
  });

  it('keeps its promise on 3,000 seeded mutations of the shipped files', () => {
    let s = 12345;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const CHARS = [
      ' ',
      '  ',
      '\n',
      '-',
      '- ',
      ':',
      ': ',
      '#',
      ' #',
      '"',
      "'",
      '[',
      ']',
      '{',
      '}',
      ',',
      '&',
      '*',
      '!',
      '|',
    ];
    const CHARS2 = ['>', '?', '%', '@', '`', '~', '0', '1', '.', 'x', '\\', 'null', 'true', '0x1', '1.5', '-1'];
    const pieces = [...CHARS, ...CHARS2];
    // Small windows of the shipped files keep yaml's share of the time low.
    const windows = SHIPPED.flatMap((text) => {
      const lines = text.split('\n');
      const out: string[] = [];
      for (let i = 0; i < lines.length; i += 6) out.push(lines.slice(i, i + 14).join('\n'));
      return out;
    }).filter((w) => parsePlainYaml(w) !== NOT_PLAIN);
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      let text = windows[rnd(windows.length)]!;
      for (let edits = 1 + rnd(2); edits > 0; edits--) {
        const at = rnd(text.length + 1);
        const cut = rnd(3) === 0 ? rnd(4) : 0;
        text = text.slice(0, at) + (rnd(4) === 0 ? '' : pieces[rnd(pieces.length)]!) + text.slice(at + cut);
      }
      if (holds(text)) accepted++;
    }
    // The mutations reach both sides of the promise.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });
});
