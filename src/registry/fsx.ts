import fs from 'node:fs';
import os from 'node:os';
import { errnoOf, NvmfError } from '../errors.js';
import { decodeDiskText } from '../text.js';
import { MAX_FILE_BYTES, quote } from './names.js';

/**
 * The registry's file primitives. None follows a symlink: the root and entries are
 * lstat'ed, files are opened with O_NOFOLLOW, and a FIFO or directory where a file should
 * be is refused (O_NONBLOCK so opening a FIFO cannot hang).
 */

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
// libuv opens every fd with O_CLOEXEC already.
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const WRITE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

export const DIR_MODE = 0o755;

/** Where the registry root comes from, as an error's advice names it. */
const ROOT_SETTING = 'NVMF_REGISTRY_ROOT (the library: roots.registry)';
// Reads are synchronous and decode before returning, so one buffer serves every read.
const readBuffer = Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
export const FILE_MODE = 0o644;

/**
 * `dir/name` for a `dir` already resolved and a `name` already validated (no `/`, no dots):
 * what path.join returns, without its normalising pass on every hot-path call.
 */
export function under(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function lstatOrNull(p: string): fs.Stats | null {
  try {
    // A missing path is the common answer here; building an exception for it costs more than the syscall.
    return fs.lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return null;
    throw ioError(e, `cannot inspect ${quote(p)}`);
  }
}

/**
 * Suffix for temp and trash names: pid (so gc can tell whose), then randomness drawn once per
 * process (so a recycled pid never meets its predecessor's leftovers) and a counter (so no two
 * of ours collide). The random part has a fixed width, so prefix+counter cannot alias.
 * The salt stays a CSPRNG draw, taken on the first suffix through the Web Crypto global
 * rather than an import of node:crypto: read-only commands (`nvmf registry list`) never write
 * a temp file and would pay ~4 ms of start-up for it, and a global works the same in the ES
 * build and in a CommonJS bundle.
 */
let suffixSalt: string | null = null;
let suffixCounter = 0;
export function uniqueSuffix(): string {
  suffixSalt ??= Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(6))).toString('hex');
  suffixCounter += 1;
  return `${process.pid}.${suffixSalt}${suffixCounter.toString(16)}`;
}

export function ioError(e: unknown, what: string, details: Record<string, unknown> = {}): NvmfError {
  if (e instanceof NvmfError) return e;
  const errno = errnoOf(e) ?? 'unknown';
  const readOnly = errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM';
  const hint =
    errno === 'EROFS'
      ? ` (a read-only file system; ${ROOT_SETTING} must name a writable place, /run on a host)`
      : readOnly
        ? ' (not writable by this user; run as root)'
        : '';
  return new NvmfError(
    readOnly ? 'EROOT' : 'EIO',
    `${what}: ${errno}${hint}`,
    { ...details, errno },
    { cause: e },
  );
}

/** Require `st` (from lstat of `p`) to be a real directory. */
export function requireDir(
  st: fs.Stats,
  p: string,
  what: string,
  details: Record<string, unknown> = {},
): void {
  if (!st.isDirectory()) throw notADirectory(st.isSymbolicLink(), p, what, details);
}

/** The refusal for what stands where a directory should: a symlink, or anything else. */
export function notADirectory(
  symlink: boolean,
  p: string,
  what: string,
  details: Record<string, unknown> = {},
): NvmfError {
  // The root is named by configuration, where a typo is likelier than junk: never advise
  // removing what it names, say which setting names it.
  const advice = what === 'registry root' ? `check ${ROOT_SETTING}; it must name a directory` : 'remove it';
  if (symlink) {
    return new NvmfError(
      'ESYMLINK',
      `${what} ${quote(p)} is a symlink; the registry never follows symlinks (${advice})`,
      details,
    );
  }
  return new NvmfError('ENOT_DIR', `${what} ${quote(p)} is not a directory (${advice})`, details);
}

/**
 * Read one attribute file as libnvme does: null when absent or empty, trailing CR/LF
 * stripped. Refuses symlinks, non-regular files and files longer than any value we allow.
 */
export function readAttrFile(p: string, details: Record<string, unknown>): string | null {
  const fd = openAttr(p, details);
  if (fd === null) return null;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notAFile(p, st, details);
    const buf = readBuffer;
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_FILE_BYTES) throw tooLarge(p, details);
      // All fstat saw is in: skip the read that would only confirm EOF. A file grown since
      // was read up to the buffer's end by the same call, so the bound still holds.
      if (n >= st.size) break;
    }
    while (n > 0 && (buf[n - 1] === 0x0a || buf[n - 1] === 0x0d)) n--;
    if (n === 0 && st.size === 0) return null;
    return decodeDiskText(buf, 0, n);
  } catch (e) {
    throw ioError(e, `cannot read attribute ${quote(p)}`, details);
  } finally {
    fs.closeSync(fd);
  }
}

/** What a file is, as far as the registry cares. */
export type FileKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'other';

export function kindOfStats(st: fs.Stats): FileKind {
  return st.isFile()
    ? 'file'
    : st.isDirectory()
      ? 'directory'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isFIFO()
          ? 'fifo'
          : 'other';
}

const ERRNO = os.constants.errno;
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(ERRNO)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

/** A failed call as the Error the rest of the code classifies by `code`. */
export function errnoError(n: number, syscall: string): NodeJS.ErrnoException {
  const code = errnoName(n);
  return Object.assign(new Error(`${syscall}: ${code}`), { code, errno: -n, syscall });
}

/**
 * Read an attribute that a readdir typed as a regular file (d_type), so the fstat an
 * unknown file needs for its type and size is skipped: one open, one read into the
 * bound+1 buffer, one close. What can still differ from the readdir is a name replaced in
 * between, and the caller's identity check of the entry catches that (any rename or mknod
 * in the directory changes it); meanwhile O_NONBLOCK keeps a FIFO from blocking and the
 * read stays bounded. Every outcome a regular file of a valid size cannot give (0 bytes,
 * over the bound, EISDIR, EAGAIN) pays for an fstat and ends exactly as readAttrFile
 * would: a 0-byte regular file is absent, anything else is classified. One read suffices:
 * a read(2) of a regular file returns less than asked only at its end.
 */
export function readRegularAttrFile(p: string, device?: string, attr?: string): string | null {
  const details = { device, attr };
  let fd: number;
  try {
    fd = fs.openSync(p, READ_FLAGS);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw openFailure(p, e, details);
  }
  const buf = readBuffer;
  let n: number;
  try {
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = errnoOf(e);
      if (code !== 'EISDIR' && code !== 'EAGAIN') throw e;
      n = -1;
    }
    if (n <= 0 || n > MAX_FILE_BYTES) {
      const kind = kindOfStats(fs.fstatSync(fd));
      if (kind !== 'file') throw notARegularFile(p, kind, details);
      if (n > MAX_FILE_BYTES) throw tooLarge(p, details);
      if (n === 0) return null;
      // A regular file cannot fail a read with EISDIR or EAGAIN: gone odd, so say so.
      throw new NvmfError('EIO', `cannot read attribute ${quote(p)}: unexpected read failure`, details);
    }
  } catch (e) {
    throw ioError(e, `cannot read attribute ${quote(p)}`, details);
  } finally {
    fs.closeSync(fd);
  }
  while (n > 0 && (buf[n - 1] === 0x0a || buf[n - 1] === 0x0d)) n--;
  return decodeDiskText(buf, 0, n);
}

/** The refusal for a name whose readdir type is not a regular file (no open needed). */
export function notARegularFile(
  p: string,
  type: Exclude<FileKind, 'file'>,
  details: Record<string, unknown>,
): NvmfError {
  if (type === 'symlink') return symlinkAttr(p, details);
  const kind = type === 'directory' ? 'a directory' : type === 'fifo' ? 'a FIFO' : 'not a regular file';
  return new NvmfError(
    'ENOT_FILE',
    `attribute ${quote(p)} is ${kind}, expected a regular file (remove it)`,
    details,
  );
}

/** Open an attribute for reading without following a symlink or blocking on a FIFO; null = absent. */
function openAttr(p: string, details: Record<string, unknown>): number | null {
  try {
    return fs.openSync(p, READ_FLAGS);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw openFailure(p, e, details);
  }
}

/** Why an attribute could not be opened (absent is not a failure and never gets here). */
function openFailure(p: string, e: unknown, details: Record<string, unknown>): NvmfError {
  const errno = errnoOf(e);
  if (errno === 'ELOOP') return symlinkAttr(p, details);
  if (errno === 'ENXIO') {
    return new NvmfError('ENOT_FILE', `attribute ${quote(p)} is not a regular file (remove it)`, details);
  }
  return ioError(e, `cannot open attribute ${quote(p)}`, details);
}

function symlinkAttr(p: string, details: Record<string, unknown>): NvmfError {
  return new NvmfError(
    'ESYMLINK',
    `attribute ${quote(p)} is a symlink; refusing to follow it (remove it)`,
    details,
  );
}

function notAFile(p: string, st: fs.Stats, details: Record<string, unknown>): NvmfError {
  const kind = kindOfStats(st);
  return notARegularFile(p, kind === 'file' ? 'other' : kind, details);
}

function tooLarge(p: string, details: Record<string, unknown>): NvmfError {
  return new NvmfError(
    'ETOO_LARGE',
    `attribute ${quote(p)} is larger than ${MAX_FILE_BYTES} bytes; not a registry value (remove it)`,
    details,
  );
}

/**
 * Create `p` exclusively (never through a symlink) holding `value\n`, mode 0644 whatever
 * the umask. The caller renames it into place.
 */
export function writeNewFile(p: string, value: string): void {
  const fd = fs.openSync(p, WRITE_FLAGS, FILE_MODE);
  try {
    fs.writeSync(fd, `${value}\n`);
    fs.fchmodSync(fd, FILE_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

/** mkdir with mode 0755 whatever the umask. */
export function makeDir(p: string): void {
  fs.mkdirSync(p, { mode: DIR_MODE });
  fs.chmodSync(p, DIR_MODE);
}

/** Write `value\n` to `dir/name` atomically: temp file beside it, then rename over. */
export function replaceFile(dir: string, name: string, value: string): void {
  const tmp = under(dir, `.${name}.tmp.${uniqueSuffix()}`);
  try {
    writeNewFile(tmp, value);
    fs.renameSync(tmp, under(dir, name));
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/**
 * Remove a file or tree without following symlinks; missing is fine. What the registry
 * removes is nearly always one directory of files (an entry moved to trash, a temp
 * directory): that takes an lstat, a readdir, an unlink each and an rmdir. rmSync would
 * first try the rmdir, build an exception for its ENOTEMPTY and lstat every name; it still
 * handles whatever else turns up (a directory inside, a name that changed type meanwhile).
 */
export function removeTree(p: string): void {
  const st = lstatOrNull(p);
  if (st === null) return;
  if (!st.isDirectory()) {
    fs.rmSync(p, { force: true });
    return;
  }
  try {
    for (const d of fs.readdirSync(p, { withFileTypes: true })) {
      const child = under(p, d.name);
      if (d.isDirectory()) fs.rmSync(child, { recursive: true, force: true });
      else fs.unlinkSync(child);
    }
    fs.rmdirSync(p);
  } catch {
    fs.rmSync(p, { recursive: true, force: true });
  }
}

export function removeQuietly(p: string): void {
  try {
    removeTree(p);
  } catch {
    // best effort: gc sweeps what is left
  }
}
