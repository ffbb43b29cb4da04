import fs from 'node:fs';
import { errnoOf, NvmfError } from '../errors.js';
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
  const hint = readOnly ? ' (the registry root is read-only or not writable by this user; run as root)' : '';
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
  if (st.isSymbolicLink()) {
    throw new NvmfError(
      'ESYMLINK',
      `${what} ${quote(p)} is a symlink; the registry never follows symlinks (remove it)`,
      details,
    );
  }
  if (!st.isDirectory()) {
    throw new NvmfError('ENOT_DIR', `${what} ${quote(p)} is not a directory (remove it)`, details);
  }
}

/**
 * Read one attribute file as libnvme does: null when absent or empty, trailing CR/LF
 * stripped. Refuses symlinks, non-regular files and files longer than any value we allow.
 */
export function readAttrFile(p: string, details: Record<string, unknown>): string | null {
  let fd: number;
  try {
    fd = fs.openSync(p, READ_FLAGS);
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT') return null;
    if (errno === 'ELOOP') {
      throw new NvmfError(
        'ESYMLINK',
        `attribute ${quote(p)} is a symlink; refusing to follow it (remove it)`,
        details,
      );
    }
    if (errno === 'ENXIO') {
      throw new NvmfError('ENOT_FILE', `attribute ${quote(p)} is not a regular file (remove it)`, details);
    }
    throw ioError(e, `cannot open attribute ${quote(p)}`, details);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'not a regular file';
      throw new NvmfError(
        'ENOT_FILE',
        `attribute ${quote(p)} is ${kind}, expected a regular file (remove it)`,
        details,
      );
    }
    const buf = readBuffer;
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_FILE_BYTES) {
        throw new NvmfError(
          'ETOO_LARGE',
          `attribute ${quote(p)} is larger than ${MAX_FILE_BYTES} bytes; not a registry value (remove it)`,
          details,
        );
      }
      // All fstat saw is in: skip the read that would only confirm EOF. A file grown since
      // was read up to the buffer's end by the same call, so the bound still holds.
      if (n >= st.size) break;
    }
    while (n > 0 && (buf[n - 1] === 0x0a || buf[n - 1] === 0x0d)) n--;
    if (n === 0 && st.size === 0) return null;
    return buf.toString('utf8', 0, n);
  } catch (e) {
    throw ioError(e, `cannot read attribute ${quote(p)}`, details);
  } finally {
    fs.closeSync(fd);
  }
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

/** Remove a file or tree without following symlinks inside it; missing is fine. */
export function removeTree(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

export function removeQuietly(p: string): void {
  try {
    removeTree(p);
  } catch {
    // best effort: gc sweeps what is left
  }
}
