// The bench's figures as plain aligned columns, and the units they are printed in.

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
export const sec = (v: number) => `${(v / 1000).toFixed(1)} s`;
export const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
export const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
export const ratio = (a: number, b: number) => `${(a / Math.max(b, 0.001)).toFixed(1)}×`;
