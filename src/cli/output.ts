import type { Writer } from './context.js';

export type OutputFormat = 'normal' | 'json';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['normal', 'json'];

/** One JSON document per command on stdout, newline-terminated, stable key order. */
export function writeJson(out: Writer, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/**
 * A plain-text table: columns left-aligned and padded to the widest cell, two spaces apart,
 * no trailing blanks (operators pipe this into awk and column -t).
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w));
  return [line(header), line(rule), ...rows.map(line)].join('\n') + '\n';
}
