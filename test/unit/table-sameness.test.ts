import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTable, type TableData } from '../../core/output/table.ts';

// What cli-table3 0.6.5 printed for 200 seeded tables, as the project configured it before it had its
// own printer: `head` upper-cased, every border char '' but `middle: '  '`, style { head: [], border: [],
// compact: true, padding-left: 0, padding-right: 0 }, wordWrap false, each line trimEnd()ed.
const RECORDED: Record<string, string> = JSON.parse(
  readFileSync(join(import.meta.dirname, '../golden/tables-cli-table3.json'), 'utf8'),
);

const PIECES = [
  '',
  'a',
  'Noop',
  'hwlab-jd01-v03',
  'refs/heads/gitops/jd01-v03',
  '0123456789ab',
  '-',
  '45s',
  '12m',
  ' x ',
  'trailing  ',
  'two\nlines',
  'a\nb\nc',
  '\n',
  '中文',
  '日本語テキスト',
  'ｆｕｌｌ',
  '한국어',
  'é',
  'e\u0301',
  '\u001b[31mred\u001b[39m',
  '\u001b[1mbold\u001b[22m',
  'tab\there',
  '😀',
  '👍 ok',
  '✅',
  'naïve',
  '→ next',
];

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function varied(seed: number): TableData {
  const rnd = seeded(seed);
  const pick = () => PIECES[Math.floor(rnd() * PIECES.length)]! + (rnd() < 0.3 ? PIECES[Math.floor(rnd() * 9)]! : '');
  const columns = 1 + Math.floor(rnd() * 6);
  const headers = Array.from({ length: columns }, (_, i) => (rnd() < 0.1 ? 'x' : `col-${i}`));
  const rows = Array.from({ length: Math.floor(rnd() * 12) }, () => {
    // Short rows only: a row longer than the headers made cli-table3 print a blank line under them.
    const ragged = rnd() < 0.15 ? Math.floor(rnd() * (columns + 1)) : columns;
    return Array.from({ length: ragged }, pick);
  });
  return { headers, rows };
}

describe('renderTable prints what cli-table3 printed', () => {
  it('on 200 seeded tables of varied cells: empty, wide, combining, emoji, colour, line breaks, short rows', () => {
    expect(Object.keys(RECORDED)).toHaveLength(200);
    for (const [seed, printed] of Object.entries(RECORDED)) {
      expect(renderTable(varied(Number(seed))), `seed ${seed}`).toBe(printed);
    }
  });
});
