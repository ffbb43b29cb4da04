import { escapeText } from '../text.js';
import type { Writer } from './context.js';

export { escapeText };

export type OutputFormat = 'normal' | 'json';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['normal', 'json'];

/** The width text output fits unless the operator asks for whole values (`-vv`). */
export const TEXT_WIDTH = 80;

/** One JSON document per command on stdout, newline-terminated, stable key order. */
export function writeJson(out: Writer, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/** Columns a cell takes (code points; values are escaped first, so none is a control). */
function cellWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** `s` cut to `width` columns with an ellipsis in the middle, keeping the tail (an NQN's distinguishing part). */
export function shorten(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, width).join('');
  const head = Math.floor((width - 1) / 2);
  const tail = width - 1 - head;
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - tail).join('')}`;
}

let wholeValues = false;

/**
 * Tables print whole values, however wide (`-vv`): the program sets this from the global
 * options before an action runs. JSON never shortens anything.
 */
export function setWideOutput(wide: boolean): void {
  wholeValues = wide;
}

/**
 * A value that leads a line of text (an NQN before its result): shortened in the middle so
 * the line, `rest` columns after it, fits TEXT_WIDTH; whole with `-vv`. Escaped either way.
 */
export function fitLead(value: string, rest: number): string {
  const v = escapeText(value);
  return wholeValues ? v : shorten(v, Math.max(MIN_COLUMN, TEXT_WIDTH - rest));
}

/**
 * One line of text folded to TEXT_WIDTH: broken at spaces, continued on lines indented by
 * four; a word longer than a line is cut where the line ends. Whole with `-vv`.
 */
export function foldLine(line: string): string {
  if (wholeValues || cellWidth(line) <= TEXT_WIDTH) return line;
  const out: string[] = [];
  let cur = '';
  const push = (): void => {
    out.push(cur);
    cur = '    ';
  };
  for (const word of line.split(' ')) {
    let w = word;
    if (cur.trim() !== '' && cellWidth(cur) + 1 + cellWidth(w) > TEXT_WIDTH) push();
    while (cellWidth(cur) + (cur.trim() === '' ? 0 : 1) + cellWidth(w) > TEXT_WIDTH) {
      const room = TEXT_WIDTH - cellWidth(cur) - (cur.trim() === '' ? 0 : 1);
      const chars = [...w];
      cur += (cur.trim() === '' ? '' : ' ') + chars.slice(0, room).join('');
      w = chars.slice(room).join('');
      push();
    }
    cur += (cur.trim() === '' ? '' : ' ') + w;
  }
  if (cur.trim() !== '') out.push(cur);
  return out.join('\n');
}

/**
 * `out` with every line of text folded to TEXT_WIDTH (foldLine); JSON lines (audit records
 * on a stderr sink) pass whole.
 */
export function foldingWriter(out: Writer): Writer {
  return {
    write(text: string): void {
      out.write(
        text
          .split('\n')
          .map((l) => (l.startsWith('{') ? l : foldLine(l)))
          .join('\n'),
      );
    },
  };
}

/** No column is shortened below this (or below its header). */
const MIN_COLUMN = 10;

/**
 * Column widths that fit `max` columns: while the table is too wide, the widest column that
 * may still shrink gives up one column (so the long ones end up level, none cut to nothing),
 * never below its floor. A table that cannot fit that way keeps the floors.
 */
function fitWidths(natural: readonly number[], floors: readonly number[], max: number): number[] {
  const widths = [...natural];
  let over = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - max;
  while (over > 0) {
    let pick = -1;
    for (let i = 0; i < widths.length; i++) {
      if (widths[i]! > floors[i]! && (pick < 0 || widths[i]! > widths[pick]!)) pick = i;
    }
    if (pick < 0) break;
    widths[pick]!--;
    over--;
  }
  return widths;
}

/**
 * `s` in lines of at most `width` columns, broken after spaces and commas. A word longer
 * than a line (a path, an NQN) is shortened in the middle instead of being cut across lines.
 */
function wrap(s: string, width: number): string[] {
  const lines: string[] = [];
  let rest = [...s];
  while (rest.length > width) {
    let cut = -1;
    for (let i = width; i > 0; i--) {
      if (rest[i - 1] === ' ' || rest[i - 1] === ',') {
        cut = i;
        break;
      }
    }
    if (cut > 0) {
      lines.push(rest.slice(0, cut).join('').trimEnd());
      rest = rest.slice(cut);
    } else {
      let end = rest.findIndex((c) => c === ' ' || c === ',');
      end = end < 0 ? rest.length : end + 1;
      lines.push(shorten(rest.slice(0, end).join('').trimEnd(), width));
      rest = rest.slice(end);
    }
    while (rest[0] === ' ') rest.shift();
  }
  if (rest.length > 0 || lines.length === 0) lines.push(rest.join(''));
  return lines;
}

/**
 * A plain-text table: columns left-aligned and padded to the widest cell, two spaces apart,
 * no trailing blanks (operators pipe this into awk and column -t). Cells are escaped
 * (escapeText). Unless whole values were asked for (`-vv`), a table wider than TEXT_WIDTH is
 * made to fit: cells of the narrowed columns are shortened in the middle
 * (`nqn.2014-0…example:vol1`), and the last column (a reason, a list of attributes) wraps
 * onto continuation lines indented to it, so nothing of it is lost.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((r) => header.map((_, i) => escapeText(r[i] ?? '')));
  const natural = header.map((h, i) => Math.max(cellWidth(h), ...cells.map((r) => cellWidth(r[i]!))));
  const widths = wholeValues
    ? natural
    : fitWidths(
        natural,
        header.map((h) => Math.max(cellWidth(h), MIN_COLUMN)),
        TEXT_WIDTH,
      );
  const last = header.length - 1;
  const indent = ' '.repeat(widths.slice(0, last).reduce((a, w) => a + w + 2, 0));
  const line = (row: readonly string[]): string => {
    const head = row
      .slice(0, last)
      .map((c, i) => {
        const cut = shorten(c, widths[i]!);
        return cut + ' '.repeat(Math.max(0, widths[i]! - cellWidth(cut)) + 2);
      })
      .join('');
    const tail = wholeValues ? [row[last] ?? ''] : wrap(row[last] ?? '', widths[last]!);
    return [`${head}${tail[0]}`.trimEnd(), ...tail.slice(1).map((t) => `${indent}${t}`.trimEnd())].join('\n');
  };
  const rule = widths.map((w) => '-'.repeat(w));
  return [line(header), line(rule), ...cells.map(line)].join('\n') + '\n';
}
