import { createRequire } from 'node:module';

// cli-table3 (and the string-width code under it) is loaded at the first table printed, not when
// the CLI starts: --help and -o json never print one.
const require = createRequire(import.meta.url);

/** A compact table: upper-case headers and string cells, as kubectl prints them. */
export interface TableData {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const NO_BORDER = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

// The one table printer every verb uses: borderless, no colour, no padding at the line ends, so
// output is the same on every terminal and golden files stay stable.
export function renderTable(table: TableData): string {
  const Table = require('cli-table3') as typeof import('cli-table3');
  const t = new Table({
    head: table.headers.map((h) => h.toUpperCase()),
    chars: NO_BORDER,
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
