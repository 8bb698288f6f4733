import { textWidth } from './text-width.ts';

/** A compact table: upper-case headers and string cells, as kubectl prints them. */
export interface TableData {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const GAP = '  ';

/** One cell as the lines it prints, each with its width in terminal columns. */
type Cell = { readonly lines: readonly string[]; readonly widths: readonly number[] };

function measure(text: string): Cell {
  const lines = text.includes('\n') ? text.split('\n') : [text];
  return { lines, widths: lines.map(textWidth) };
}

// The one table printer every verb uses: borderless, no colour, columns two spaces apart and as wide
// as their widest cell, no padding at the line ends, so output is the same on every terminal and golden
// files stay stable. A cell holding line breaks makes its row as many lines tall; a short row is
// padded with empty cells. One pass measures the columns and one writes the lines: linear in the
// cells, where cli-table3's layout was quadratic in the rows.
export function renderTable(table: TableData): string {
  const rows = table.headers.length > 0 ? [table.headers.map((h) => h.toUpperCase()), ...table.rows] : table.rows;
  let columns = 0;
  for (const row of rows) columns = Math.max(columns, row.length);
  const widths = new Array<number>(columns).fill(1);
  const cells: Cell[][] = [];
  for (const row of rows) {
    const measured: Cell[] = [];
    for (let x = 0; x < columns; x++) {
      const cell = measure(row[x] ?? '');
      for (const w of cell.widths) if (w > widths[x]!) widths[x] = w;
      measured.push(cell);
    }
    cells.push(measured);
  }
  const out: string[] = [];
  for (const row of cells) {
    let height = 1;
    for (const cell of row) height = Math.max(height, cell.lines.length);
    for (let n = 0; n < height; n++) {
      let line = '';
      for (let x = 0; x < columns; x++) {
        const cell = row[x]!;
        if (x > 0) line += GAP;
        line += cell.lines[n] ?? '';
        if (x < columns - 1) line += ' '.repeat(widths[x]! - (cell.widths[n] ?? 0));
      }
      out.push(line.trimEnd());
    }
  }
  return out.join('\n');
}
