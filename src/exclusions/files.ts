import fs from 'node:fs';
import path from 'node:path';
import { checkOptions, checkOptionalString, invalidOption } from '../args.js';
import { errnoOf, NvmfError } from '../errors.js';
import {
  type ExclusionEntry,
  type ExclusionTarget,
  entryMatches,
  formatExclusionEntry,
  parseExclusionEntry,
} from './entry.js';

/**
 * The exclusion list files, as upstream nvme-cli lays them out under /etc: the default list
 * `nvme/exclusions.conf` and named drop-ins `nvme/exclusions.conf.d/NAME.conf`. Each is INI
 * text whose `[exclusions]` section holds `exclusion = key=value;...` lines.
 *
 * Reading is forgiving, as upstream's: a line that cannot be an entry, an invalid entry, an
 * unreadable file are skipped and reported as problems (file and line), never fatal, and a
 * skipped entry excludes nothing. Callers show the problems (`connect-all` warns on stderr).
 */

export const DEFAULT_ETC = '/etc';
const SECTION = 'exclusions';
const LINE_KEY = 'exclusion';
/** Longer lines are not entries (upstream reads lines into a 4096-byte buffer). */
export const LINE_MAX = 4095;
/** A list file larger than this is not read (upstream's limit for its editor). */
export const FILE_MAX = 1024 * 1024;

/** One valid entry with where it came from. */
export interface ExclusionRecord {
  /** The list: null for the default list, else the drop-in's name. */
  list: string | null;
  file: string;
  line: number;
  /** The entry's text as written after `exclusion =`. */
  text: string;
  entry: ExclusionEntry;
}

/** Something skipped, with where and why. `line` is 0 for a problem with the whole file. */
export interface ExclusionProblem {
  file: string;
  line: number;
  message: string;
}

export interface ExclusionFile {
  records: ExclusionRecord[];
  problems: ExclusionProblem[];
}

export interface Exclusions {
  /** The lists that exist: the default one (if its file exists) first, then drop-ins by name. */
  lists: { list: string | null; file: string }[];
  records: ExclusionRecord[];
  problems: ExclusionProblem[];
}

/** Paths of the default list and the drop-in directory under an etc directory. */
export function exclusionPaths(etc: string = DEFAULT_ETC): { defaultList: string; dropInDir: string } {
  return {
    defaultList: path.join(etc, 'nvme', 'exclusions.conf'),
    dropInDir: path.join(etc, 'nvme', 'exclusions.conf.d'),
  };
}

/**
 * Parse one list file's text. Lines are trimmed; blank lines and `#` comments are skipped.
 * `[name]` opens a section (a header without `]` is malformed and closes the current one, so
 * the entries after it are not taken). `exclusion = ...` inside `[exclusions]` is an entry;
 * outside it, reported and skipped. Other keys and other sections' lines are reserved for
 * future use and skipped silently, except inside `[exclusions]` where they are reported (a
 * misspelt `exclusion` disarms an entry).
 */
export function parseExclusionFile(text: string, file: string, list: string | null = null): ExclusionFile {
  const records: ExclusionRecord[] = [];
  const problems: ExclusionProblem[] = [];
  let inSection = false;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const problem = (message: string): void => {
      problems.push({ file, line, message });
    };
    if (raw.length > LINE_MAX) {
      problem(`line longer than ${LINE_MAX} characters, skipped`);
      return;
    }
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    if (s.startsWith('[')) {
      const end = s.indexOf(']');
      if (end < 0) {
        inSection = false;
        problem(`malformed section header ${JSON.stringify(s)}; lines up to the next header are skipped`);
        return;
      }
      inSection = s.slice(1, end).trim() === SECTION;
      return;
    }
    const eq = s.indexOf('=');
    if (eq < 0) {
      if (inSection) problem(`${JSON.stringify(s)} is not "exclusion = ...", skipped`);
      return;
    }
    const key = s.slice(0, eq).trim();
    if (key !== LINE_KEY) {
      if (inSection)
        problem(`unknown key ${JSON.stringify(key)} in [${SECTION}] (only "${LINE_KEY}"), skipped`);
      return;
    }
    if (!inSection) {
      problem(`entry outside the [${SECTION}] section, skipped`);
      return;
    }
    const value = s.slice(eq + 1).trim();
    const parsed = parseExclusionEntry(value);
    if (!parsed.ok) {
      problem(`invalid entry ${JSON.stringify(value)}: ${parsed.reason}; it excludes nothing`);
      return;
    }
    records.push({ list, file, line, text: value, entry: parsed.entry });
  });
  return { records, problems };
}

const DROP_IN_RE = /^(.+)\.conf$/;

/**
 * Read the default list and every drop-in under `etc` (default `/etc`). Missing files and a
 * missing drop-in directory are empty lists, not problems. Re-read on every call: the files
 * are edited behind our back, and an edit counts from the next decision.
 */
export async function readExclusions(opts: { etc?: string } = {}): Promise<Exclusions> {
  const etc =
    checkOptionalString(checkOptions(opts, 'readExclusions', ['etc']).etc, 'readExclusions', 'etc') ??
    DEFAULT_ETC;
  if (etc === '') throw invalidOption('readExclusions', 'etc must be a path');
  const { defaultList, dropInDir } = exclusionPaths(etc);
  const out: Exclusions = { lists: [], records: [], problems: [] };
  const take = async (file: string, list: string | null): Promise<void> => {
    const text = await readListFile(file, out.problems);
    if (text === null) return;
    out.lists.push({ list, file });
    const parsed = parseExclusionFile(text, file, list);
    out.records.push(...parsed.records);
    out.problems.push(...parsed.problems);
  };
  await take(defaultList, null);
  let names: string[] = [];
  try {
    names = await fs.promises.readdir(dropInDir);
  } catch (e) {
    const errno = errnoOf(e);
    if (errno !== 'ENOENT' && errno !== 'ENOTDIR')
      out.problems.push({
        file: dropInDir,
        line: 0,
        message: `cannot list the drop-in lists: ${errno ?? String(e)}`,
      });
  }
  for (const name of names.sort()) {
    const m = DROP_IN_RE.exec(name);
    if (m === null) continue;
    await take(path.join(dropInDir, name), m[1] as string);
  }
  return out;
}

/** A list file's text; null (with a problem unless it does not exist) when it cannot be read. */
async function readListFile(file: string, problems: ExclusionProblem[]): Promise<string | null> {
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) {
      problems.push({ file, line: 0, message: 'not a regular file, skipped' });
      return null;
    }
    if (st.size > FILE_MAX) {
      problems.push({ file, line: 0, message: `larger than ${FILE_MAX} bytes, skipped` });
      return null;
    }
    return await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT') return null;
    problems.push({
      file,
      line: 0,
      message: `cannot read: ${errno ?? String(e)}; its entries exclude nothing`,
    });
    return null;
  }
}

/** The first record (default list first, then drop-ins by name, in line order) that excludes `target`, or null. */
export function findExclusion(
  exclusions: Pick<Exclusions, 'records'>,
  target: ExclusionTarget,
): ExclusionRecord | null {
  for (const r of exclusions.records) if (entryMatches(r.entry, target)) return r;
  return null;
}

/** Where `addExclusion` and `removeExclusion` write: the default list, or drop-in `list`. */
export function listFile(etc: string, list: string | null): string {
  const { defaultList, dropInDir } = exclusionPaths(etc);
  if (list === null) return defaultList;
  if (typeof list !== 'string' || !LIST_NAME_RE.test(list))
    throw invalidOption(
      'exclusion list',
      `a list name is letters, digits, ".", "_" and "-" (not starting with "."), got ${JSON.stringify(list)}`,
    );
  return path.join(dropInDir, `${list}.conf`);
}

const LIST_NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Two entries set the same fields to the same values (canonical spellings, as parsed). */
export function sameEntry(a: ExclusionEntry, b: ExclusionEntry): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return (
    ka.length === kb.length &&
    ka.every((k, i) => k === kb[i] && a[k as keyof ExclusionEntry] === b[k as keyof ExclusionEntry])
  );
}

/**
 * Add `entry` to a list file (created with its `[exclusions]` header when missing). The line
 * is appended with one O_APPEND write, so concurrent adders never lose each other's entries;
 * a `[exclusions]` header goes first in the same write when the file's last section is
 * another one. An entry already in the file (same fields and values) is not added twice.
 * Returns whether it was added.
 */
export async function addExclusion(
  etc: string,
  list: string | null,
  entry: ExclusionEntry,
): Promise<{ file: string; added: boolean }> {
  const file = listFile(etc, list);
  const line = `${LINE_KEY} = ${formatExclusionEntry(entry)}\n`;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw fileError(file, e);
    try {
      await fs.promises.writeFile(file, `[${SECTION}]\n${line}`, { flag: 'wx', mode: 0o644 });
      return { file, added: true };
    } catch (e2) {
      if (errnoOf(e2) !== 'EEXIST') throw fileError(file, e2);
      text = await fs.promises.readFile(file, 'utf8');
    }
  }
  if (parseExclusionFile(text, file, list).records.some((r) => sameEntry(r.entry, entry)))
    return { file, added: false };
  const needHeader = lastSection(text) !== SECTION;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  try {
    await fs.promises.appendFile(file, `${sep}${needHeader ? `[${SECTION}]\n` : ''}${line}`);
  } catch (e) {
    throw fileError(file, e);
  }
  return { file, added: true };
}

/** The name of the section the end of `text` is in ('' before any header, null after a malformed one). */
function lastSection(text: string): string | null {
  let section: string | null = '';
  for (const raw of text.split('\n')) {
    const s = raw.trim();
    if (!s.startsWith('[')) continue;
    const end = s.indexOf(']');
    section = end < 0 ? null : s.slice(1, end).trim();
  }
  return section;
}

/**
 * Remove every `exclusion =` line of a list file whose entry is `entry` (same fields and
 * values). The file is rewritten whole (a temporary file renamed over it, its mode kept);
 * other lines, comments included, stay as they were. Returns how many lines went.
 */
export async function removeExclusion(
  etc: string,
  list: string | null,
  entry: ExclusionEntry,
): Promise<{ file: string; removed: number }> {
  const file = listFile(etc, list);
  let text: string;
  let mode: number;
  try {
    text = await fs.promises.readFile(file, 'utf8');
    mode = (await fs.promises.stat(file)).mode & 0o7777;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return { file, removed: 0 };
    throw fileError(file, e);
  }
  const drop = new Set(
    parseExclusionFile(text, file, list)
      .records.filter((r) => sameEntry(r.entry, entry))
      .map((r) => r.line),
  );
  if (drop.size === 0) return { file, removed: 0 };
  const kept = text.split('\n').filter((_l, i) => !drop.has(i + 1));
  const tmp = `${file}.tmp.${process.pid}`;
  try {
    await fs.promises.writeFile(tmp, kept.join('\n'), { mode });
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw fileError(file, e);
  }
  return { file, removed: drop.size };
}

function fileError(file: string, e: unknown): NvmfError {
  return new NvmfError('EIO', `cannot write the exclusion list ${file}: ${errnoOf(e) ?? String(e)}`, {
    file,
    errno: errnoOf(e),
  });
}
