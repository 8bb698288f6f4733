import { renderTable, type TableData } from './table.ts';
import { yamlText } from './yaml-text.ts';

/** One block of the human view. */
export type Block =
  | { readonly line: string }
  | { readonly table: TableData }
  /** Next drill-down commands, printed under "next:". */
  | { readonly next: readonly string[] };

// What a verb produces, independent of how it is printed: the structured data (for --json and
// -o json|yaml), the compact human blocks (the default), and optionally the raw document (--raw).
export interface View {
  readonly data: unknown;
  readonly human: readonly Block[];
  /** The full underlying document, when the verb has one (e.g. the manifests for synth). */
  readonly raw?: string;
}

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | 'raw';

function renderHuman(blocks: readonly Block[]): string {
  return blocks
    .map((b) => {
      if ('line' in b) return b.line;
      if ('table' in b) return renderTable(b.table);
      return ['next:', ...b.next.map((n) => `  ${n}`)].join('\n');
    })
    .join('\n');
}

/** Renders a view in the chosen format; always ends with a newline. */
export function renderView(view: View, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(view.data, null, 2)}\n`;
    case 'yaml':
      return yamlText(view.data, { lineWidth: 0 });
    case 'raw':
      return view.raw ?? yamlText(view.data, { lineWidth: 0 });
    case 'table':
      return `${renderHuman(view.human)}\n`;
  }
}
