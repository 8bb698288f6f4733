import { colourTable } from './colour.ts';
import { renderTable, type TableData } from './table.ts';
import { fitTable } from './table-fit.ts';
import { yamlText } from './yaml-text.ts';

/** One block of the human view. */
export type Block =
  | { readonly line: string }
  | { readonly table: TableData }
  /** Next drill-down commands, printed under "next:". */
  | { readonly next: readonly string[] };

// What a verb produces, independent of how it is printed: the structured data (for --json and
// -o json|yaml), the compact human blocks (the default, and -o wide with every column), the names of
// what it lists (-o name), and optionally the raw document (--raw).
export interface View {
  readonly data: unknown;
  readonly human: readonly Block[];
  /** `kind/name` of every listed thing, for -o name (only the verbs that list things have them). */
  readonly names?: readonly string[];
  /** The full underlying document, when the verb has one (e.g. the manifests for synth). */
  readonly raw?: string;
}

export const OUTPUT_FORMATS = ['table', 'wide', 'name', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | 'raw';

/** How the human view is printed: whether colour may be used (the CLI knows the terminal). */
export interface RenderOptions {
  readonly colour: boolean;
}

function renderHuman(blocks: readonly Block[], wide: boolean, opts: RenderOptions): string {
  return blocks
    .map((b) => {
      if ('line' in b) return b.line;
      if ('table' in b) {
        const fitted = fitTable(b.table, wide);
        return renderTable(opts.colour ? colourTable(fitted) : fitted);
      }
      return ['next:', ...b.next.map((n) => `  ${n}`)].join('\n');
    })
    .join('\n');
}

/** Renders a view in the chosen format; always ends with a newline. */
export function renderView(view: View, format: OutputFormat, opts: RenderOptions = { colour: false }): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(view.data, null, 2)}\n`;
    case 'yaml':
      return yamlText(view.data, { lineWidth: 0 });
    case 'raw':
      return view.raw ?? yamlText(view.data, { lineWidth: 0 });
    case 'name':
      return (view.names ?? []).map((n) => `${n}\n`).join('');
    case 'table':
    case 'wide':
      return `${renderHuman(view.human, format === 'wide', opts)}\n`;
  }
}
