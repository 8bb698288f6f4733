import { textWidth } from './text-width.ts';

/** A compact table: upper-case headers and string cells, as kubectl prints them. */
export interface TableData {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Headers of the columns only `-o wide` shows. */
  readonly wideOnly?: readonly string[];
  /** The header of the free-text column the default output cuts so its lines fit (table-fit.ts). */
  readonly shrink?: string;
  /** How a column's cells are coloured on a terminal, by header (colour.ts). */
  readonly tones?: Readonly<Record<string, (cell: string) => Tone | undefined>>;
}

/** What a coloured cell means: done well, failed, or still under way. */
export type Tone = 'good' | 'bad' | 'busy';

const GAP = '  ';

// The one table printer every verb uses: borderless, no colour, columns two spaces apart and as wide
// as their widest cell, no padding at the line ends, so output is the same on every terminal and golden
// files stay stable. A cell holding line breaks makes its row as many lines tall; a short row is
// padded with empty cells. One pass measures the columns and one writes the lines: linear in the
// cells, where cli-table3's layout was quadratic in the rows. A row of one-line cells (nearly every
// row) is written straight from its cells and their measured widths, with no per-cell lines array.
export function renderTable(table: TableData): string {
  const rows = table.headers.length > 0 ? [table.headers.map((h) => h.toUpperCase()), ...table.rows] : table.rows;
  let columns = 0;
  for (const row of rows) columns = Math.max(columns, row.length);
  const widths = new Array<number>(columns).fill(1);
  // The width of every one-line cell, row by row; -1 marks a cell of several lines.
  const cellWidths = new Int32Array(rows.length * columns);
  for (let y = 0; y < rows.length; y++) {
    const row = rows[y]!;
    for (let x = 0; x < columns; x++) {
      const text = row[x] ?? '';
      let w: number;
      if (text.includes('\n')) {
        w = 0;
        for (const line of text.split('\n')) w = Math.max(w, textWidth(line));
        cellWidths[y * columns + x] = -1;
      } else {
        w = textWidth(text);
        cellWidths[y * columns + x] = w;
      }
      if (w > widths[x]!) widths[x] = w;
    }
  }
  const out: string[] = [];
  for (let y = 0; y < rows.length; y++) {
    const row = rows[y]!;
    let tall = false;
    for (let x = 0; x < columns; x++) if (cellWidths[y * columns + x] === -1) tall = true;
    if (!tall) {
      let line = '';
      for (let x = 0; x < columns; x++) {
        if (x > 0) line += GAP;
        line += row[x] ?? '';
        if (x < columns - 1) line += ' '.repeat(widths[x]! - cellWidths[y * columns + x]!);
      }
      out.push(line.trimEnd());
      continue;
    }
    const cells = Array.from({ length: columns }, (_, x) => (row[x] ?? '').split('\n'));
    let height = 1;
    for (const lines of cells) height = Math.max(height, lines.length);
    for (let n = 0; n < height; n++) {
      let line = '';
      for (let x = 0; x < columns; x++) {
        const text = cells[x]![n];
        if (x > 0) line += GAP;
        line += text ?? '';
        if (x < columns - 1) line += ' '.repeat(widths[x]! - (text === undefined ? 0 : textWidth(text)));
      }
      out.push(line.trimEnd());
    }
  }
  return out.join('\n');
}
