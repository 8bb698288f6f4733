import type { TableData } from './table.ts';
import { textWidth } from './text-width.ts';

/** The width every default table fits: kubectl's habit of a table that does not wrap on a wide terminal. */
export const TABLE_WIDTH = 120;

const GAP = 2;
/** A cut column keeps at least this many columns of its text. */
const MIN_CUT = 12;

/** The first `width` columns of a one-line text, ending in "…" when something was cut. */
function cut(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  // Character by character, each measured alone: measuring the growing text (and its "…", not ASCII)
  // each time made cutting 10,000 cells take seconds.
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = textWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

// The table as the default output shows it: without its wide-only columns, and its free-text column
// (the one `shrink` names) cut so that every line fits TABLE_WIDTH. `-o wide` shows the table whole.
export function fitTable(table: TableData, wide: boolean): TableData {
  if (wide) return table;
  const keep = table.headers.map((h, x) => ({ h, x })).filter(({ h }) => !table.wideOnly?.includes(h));
  const headers = keep.map(({ h }) => h);
  let rows = table.rows.map((row) => keep.map(({ x }) => row[x] ?? ''));
  const at = table.shrink === undefined ? -1 : headers.indexOf(table.shrink);
  if (at >= 0) {
    let others = 0;
    for (let x = 0; x < headers.length; x++) {
      if (x === at) continue;
      let w = textWidth(headers[x]!);
      for (const row of rows) for (const line of row[x]!.split('\n')) w = Math.max(w, textWidth(line));
      others += w + GAP;
    }
    const room = Math.max(MIN_CUT, TABLE_WIDTH - others);
    rows = rows.map((row) =>
      row.map((cell, x) =>
        x === at
          ? cell
              .split('\n')
              .map((line) => cut(line, room))
              .join('\n')
          : cell,
      ),
    );
  }
  const { wideOnly: _w, shrink: _s, ...rest } = table;
  return { ...rest, headers, rows };
}
