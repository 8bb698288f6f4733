import type { TableData, Tone } from './table.ts';

// SGR colours for a terminal: green, red, yellow. Only the CLI decides whether to use them (a TTY,
// no NO_COLOR, no --no-color); text that goes to a pipe or a file never holds an escape.
const ESC = String.fromCharCode(0x1b);
const CODES: Readonly<Record<Tone, string>> = { good: '32', bad: '31', busy: '33' };

/** The text in the colour of its tone. */
export function paint(text: string, tone: Tone): string {
  return `${ESC}[${CODES[tone]}m${text}${ESC}[0m`;
}

/** The table with the cells of its toned columns painted. */
export function colourTable(table: TableData): TableData {
  const tones = table.tones;
  if (!tones) return table;
  const toneAt = table.headers.map((h) => tones[h]);
  if (toneAt.every((t) => t === undefined)) return table;
  const rows = table.rows.map((row) =>
    row.map((cell, x) => {
      const tone = toneAt[x]?.(cell);
      return tone && cell !== '' ? paint(cell, tone) : cell;
    }),
  );
  return { ...table, rows };
}
