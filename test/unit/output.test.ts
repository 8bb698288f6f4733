import { describe, expect, it } from 'vitest';
import { formatPath } from '../../core/config/yaml-source.ts';
import { renderTable } from '../../core/output/table.ts';
import { renderView } from '../../core/output/view.ts';

describe('output', () => {
  it('prints a borderless table with upper-case headers and no trailing spaces', () => {
    const out = renderTable({
      headers: ['id', 'phase'],
      rows: [
        ['a', 'Noop'],
        ['longer-id', ''],
      ],
    });
    expect(out).toBe('ID         PHASE\na          Noop\nlonger-id');
  });

  it('renders one view as table, json, yaml and raw', () => {
    const view = { data: { a: 1 }, human: [{ line: 'hello' }, { next: ['x y'] }], raw: 'RAW\n' };
    expect(renderView(view, 'table')).toBe('hello\nnext:\n  x y\n');
    expect(renderView(view, 'json')).toBe('{\n  "a": 1\n}\n');
    expect(renderView(view, 'yaml')).toBe('a: 1\n');
    expect(renderView(view, 'raw')).toBe('RAW\n');
    expect(renderView({ data: { a: 1 }, human: [] }, 'raw')).toBe('a: 1\n');
  });

  it('formats YAML paths the way they are written in messages', () => {
    expect(formatPath(['followers', 0, 'closeout', 'budgetSeconds'])).toBe('followers[0].closeout.budgetSeconds');
    expect(formatPath([])).toBe('(document)');
  });
});
