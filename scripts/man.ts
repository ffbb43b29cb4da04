/**
 * docs/man/*.md -> docs/man/nvmf.1 (one roff page, man macros + tbl).
 *
 *   npm run man            regenerate docs/man/nvmf.1
 *   npm run man -- --check exit 1 when the committed nvmf.1 is out of date
 *
 * The markdown pages use a small subset on purpose and this converter knows exactly that
 * subset: `#`/`##` headings, paragraphs, `- ` bullet lists (continuation lines indented),
 * 4-space indented code blocks, pipe tables, and inline `code`, **bold** and [text](link).
 * Anything else is a paragraph, so a new construct shows up as plain text, never as garbage.
 *
 * Layout of the result: nvmf.md's sections in order, with one section per command page
 * (`NVMF CONNECT`, ...; its `##` headings become subsections) inserted before SEE ALSO, in
 * the order nvmf.md's COMMANDS table links them. The output carries no date, so it only
 * changes when the pages do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'para'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'code'; lines: string[] }
  | { kind: 'table'; rows: string[][] };

export interface Page {
  /** File name without `.md`: `nvmf`, `nvmf-connect`, ... */
  name: string;
  blocks: Block[];
}

const isTableLine = (l: string): boolean => l.trimStart().startsWith('|');
const isRule = (cells: string[]): boolean => cells.every((c) => /^:?-{3,}:?$/.test(c.trim()));

/** `| a | b |` -> ['a', 'b']; `\|` stays a literal bar inside a cell. */
function splitRow(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const cells: string[] = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i] as string;
    if (ch === '\\' && inner[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (ch === '`') {
      inCode = !inCode;
      cur += ch;
    } else if (ch === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  cells.push(cur.trim());
  return cells;
}

export function parseMarkdown(name: string, text: string): Page {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const h = /^(#{1,3})\s+(.*)$/.exec(line);
    if (h) {
      blocks.push({ kind: 'heading', level: (h[1] as string).length, text: (h[2] as string).trim() });
      i++;
      continue;
    }
    if (line.startsWith('    ')) {
      const code: string[] = [];
      while (
        i < lines.length &&
        ((lines[i] as string).startsWith('    ') || (lines[i] as string).trim() === '')
      ) {
        code.push((lines[i] as string).slice(4));
        i++;
      }
      while (code.length > 0 && (code[code.length - 1] as string).trim() === '') code.pop();
      blocks.push({ kind: 'code', lines: code });
      continue;
    }
    if (isTableLine(line)) {
      const rows: string[][] = [];
      while (i < lines.length && isTableLine(lines[i] as string)) {
        const cells = splitRow(lines[i] as string);
        if (!isRule(cells)) rows.push(cells);
        i++;
      }
      blocks.push({ kind: 'table', rows });
      continue;
    }
    if (/^- /.test(line)) {
      const items: string[] = [];
      while (i < lines.length) {
        const l = lines[i] as string;
        if (/^- /.test(l)) items.push(l.slice(2).trim());
        else if (/^\s{2,}\S/.test(l) && items.length > 0) items[items.length - 1] += ` ${l.trim()}`;
        else break;
        i++;
      }
      blocks.push({ kind: 'list', items });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length) {
      const l = lines[i] as string;
      if (l.trim() === '' || /^#{1,3}\s/.test(l) || isTableLine(l) || /^- /.test(l) || l.startsWith('    '))
        break;
      para.push(l.trim());
      i++;
    }
    blocks.push({ kind: 'para', text: para.join('\n') });
  }
  return { name, blocks };
}

/** Characters roff would misread, and everything outside ASCII as a groff `\[uXXXX]` escape. */
function escapeText(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\e';
    else if (ch === '-') out += '\\-';
    else if (cp > 0x7e) out += `\\[u${cp.toString(16).toUpperCase().padStart(4, '0')}]`;
    else out += ch;
  }
  return out;
}

/** How a link reads on paper: other pages of this set are sections of nvmf(1). */
function linkText(text: string, target: string): string {
  const page = /^(nvmf(?:-[a-z-]+)?)\.md(#.*)?$/.exec(target);
  if (page) {
    const name = page[1] as string;
    return name === 'nvmf' ? 'nvmf(1)' : `${sectionTitle(name)} below`;
  }
  if (/^https?:/.test(target)) return `${text} <${target}>`;
  // links are relative to docs/man/; on paper they name the file from the repository root
  const shown = path.posix.normalize(`docs/man/${target.replace(/#.*$/, '')}`);
  return /[/.]/.test(text) ? shown : `${text} (${shown})`;
}

/** Inline markdown to roff: code and bold in bold, links as plain text, escapes. */
export function inline(s: string): string {
  let out = '';
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let last = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    out += escapeText(s.slice(last, m.index));
    // `\:` after , and | lets a long JSON shape wrap there without a hyphen
    if (m[1] !== undefined) out += `\\fB${escapeText(m[1]).replace(/([,|])/g, '$1\\:')}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${escapeText(m[2])}\\fR`;
    else out += escapeText(linkText(m[3] as string, m[4] as string));
    last = m.index + m[0].length;
  }
  out += escapeText(s.slice(last));
  return protectLines(out);
}

/** A line starting with `.` or `'` would be a roff request. */
function protectLines(s: string): string {
  return s
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function sectionTitle(name: string): string {
  // nvmf-connect-all -> NVMF CONNECT-ALL: the command as typed, after the program name
  return name.replace(/^nvmf-/, 'nvmf ').toUpperCase();
}

function quoteArg(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function renderTable(rows: string[][]): string[] {
  const width = Math.max(...rows.map((r) => r.length));
  const cell = (c: string | undefined): string => `T{\n${inline(c ?? '')}\nT}`;
  const fmt = (bold: boolean): string =>
    Array.from({ length: width }, (_, i) => `${bold ? 'lb' : 'l'}${i === width - 1 ? 'x' : ''}`).join(' ');
  const out = ['.TS', 'allbox tab(\t);', `${fmt(true)}`, `${fmt(false)}.`];
  for (const r of rows) out.push(Array.from({ length: width }, (_, i) => cell(r[i])).join('\t'));
  out.push('.TE');
  return out;
}

function renderBlocks(
  blocks: readonly Block[],
  headingMacro: (level: number) => string,
  keepLines = false,
): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${headingMacro(b.level)} ${quoteArg(b.text.toUpperCase())}`);
        break;
      case 'para':
        // a SYNOPSIS lists one form per source line; elsewhere lines flow as in markdown
        out.push('.PP', keepLines ? b.text.split('\n').map(inline).join('\n.br\n') : inline(b.text));
        break;
      case 'list':
        for (const item of b.items) out.push('.IP \\(bu 2', inline(item));
        break;
      case 'code':
        out.push('.PP', '.RS 4', '.nf', ...b.lines.map((l) => protectLines(escapeText(l))), '.fi', '.RE');
        break;
      case 'table':
        out.push('.PP', ...renderTable(b.rows));
        break;
    }
  }
  return out;
}

/** The `##` sections of a page: title and blocks. */
function sections(page: Page): { title: string; blocks: Block[] }[] {
  const out: { title: string; blocks: Block[] }[] = [];
  for (const b of page.blocks) {
    if (b.kind === 'heading' && b.level === 1) continue;
    if (b.kind === 'heading' && b.level === 2) out.push({ title: b.text, blocks: [] });
    else if (out.length > 0) (out[out.length - 1] as { blocks: Block[] }).blocks.push(b);
  }
  return out;
}

/** Command pages in the order nvmf.md links them; pages it does not link come last, sorted. */
function commandOrder(main: Page, pages: readonly Page[]): Page[] {
  const linked: string[] = [];
  const text = JSON.stringify(main.blocks);
  for (const m of text.matchAll(/\]\((nvmf-[a-z-]+)\.md\)/g)) {
    if (!linked.includes(m[1] as string)) linked.push(m[1] as string);
  }
  const byName = new Map(pages.map((p) => [p.name, p]));
  const rest = pages.filter((p) => !linked.includes(p.name)).sort((a, b) => a.name.localeCompare(b.name));
  return [...linked.flatMap((n) => (byName.has(n) ? [byName.get(n) as Page] : [])), ...rest];
}

const isSynopsis = (title: string): boolean => title.toUpperCase() === 'SYNOPSIS';

export function renderManPage(main: Page, commands: readonly Page[], version: string): string {
  const out: string[] = [
    '\'\\" t',
    '.\\" Generated by scripts/man.ts from docs/man/*.md; edit those and run: npm run man',
    `.TH NVMF 1 "" ${quoteArg(`nvmf-registry ${version}`)} "User Commands"`,
    // ragged right: JSON shapes and long option lists cannot be justified without gaps
    '.ad l',
    // no hyphenation: option names, paths and JSON keys must read exactly as typed
    '.nh',
  ];
  const sub = (level: number): string => (level <= 2 ? '.SH' : '.SS');
  const mainSections = sections(main);
  const seeAlso = mainSections.findIndex((s) => s.title.toUpperCase() === 'SEE ALSO');
  const before = seeAlso === -1 ? mainSections : mainSections.slice(0, seeAlso);
  const after = seeAlso === -1 ? [] : mainSections.slice(seeAlso);
  for (const s of before) {
    out.push(`.SH ${quoteArg(s.title.toUpperCase())}`, ...renderBlocks(s.blocks, sub, isSynopsis(s.title)));
  }
  for (const page of commandOrder(main, commands)) {
    out.push(`.SH ${quoteArg(sectionTitle(page.name))}`);
    for (const s of sections(page)) {
      // the section title already names the command; its NAME line opens the section untitled
      if (s.title.toUpperCase() === 'NAME') {
        out.push(...renderBlocks(s.blocks, () => '.SS'));
        continue;
      }
      out.push(
        `.SS ${quoteArg(s.title.toUpperCase())}`,
        ...renderBlocks(s.blocks, () => '.SS', isSynopsis(s.title)),
      );
    }
  }
  for (const s of after) {
    out.push(`.SH ${quoteArg(s.title.toUpperCase())}`, ...renderBlocks(s.blocks, sub));
  }
  // a paragraph break straight after a heading is redundant, and whatis parsers want NAME's line bare
  const lines = out.filter((l, i) => !(l === '.PP' && /^\.S[HS] /.test(out[i - 1] ?? '')));
  return `${lines.join('\n')}\n`;
}

export function buildFromDir(dir: string, version: string): string {
  const files = fs.readdirSync(dir).filter((f) => /^nvmf(-[a-z-]+)?\.md$/.test(f));
  const pages = files.map((f) => parseMarkdown(f.slice(0, -3), fs.readFileSync(path.join(dir, f), 'utf8')));
  const main = pages.find((p) => p.name === 'nvmf');
  if (main === undefined) throw new Error(`${dir}/nvmf.md is missing`);
  return renderManPage(
    main,
    pages.filter((p) => p !== main),
    version,
  );
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MAN_DIR = path.join(ROOT, 'docs', 'man');
export const MAN_PAGE = path.join(MAN_DIR, 'nvmf.1');

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const roff = buildFromDir(MAN_DIR, packageVersion());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(MAN_PAGE) ? fs.readFileSync(MAN_PAGE, 'utf8') : '';
    if (current !== roff) {
      process.stderr.write(`${path.relative(ROOT, MAN_PAGE)} is out of date; run: npm run man\n`);
      process.exitCode = 1;
    }
  } else {
    fs.writeFileSync(MAN_PAGE, roff);
    process.stdout.write(`wrote ${path.relative(ROOT, MAN_PAGE)}\n`);
  }
}
