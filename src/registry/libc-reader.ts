import { NvmfError } from '../errors.js';
import { type DirName, type Entry, type EntryDir, entryFrom, vanished } from './entry.js';
import {
  type AttrFileOps,
  errnoError,
  type FileKind,
  ioError,
  lstatOrNull,
  notADirectory,
  under,
} from './fsx.js';
import { libc } from './libc.js';

/**
 * Entries read through libc instead of node:fs, for processes that list a large registry
 * again and again (an orchestrator's daemon polling the registry). Every node:fs call pays
 * for argument checks, a path string and result objects (Stats, Dirent) besides the
 * syscall; over koffi a list of a thousand entries took about three quarters of node:fs's
 * time here. Loading koffi costs ~10 ms, more than one such list saves, so Registry uses
 * this only from a registry's second large list on (RegistryOptions.listReader).
 *
 * Each entry is read under one open directory: its names with getdents64 and its files
 * with openat relative to that directory, so its names and values come from one
 * directory. Whether that directory was still the entry, unchanged, when the read ended is
 * the path reader's check: statx of the open directory before, statx of the path after,
 * same inode, device and ctime, or read again.
 */

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
// O_* values of Linux on x86_64 and arm64 alike.
const O_RDONLY = 0;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
const ENOENT = 2;
const ENOTDIR = 20;
const ELOOP = 40;

// struct statx: the same layout on every architecture.
const STATX_SIZE = 256;
const STX_MODE = 28;
/** stx_ino, stx_ctime (seconds and nanoseconds) and stx_dev_{major,minor}: what "unchanged" means. */
const IDENTITY_RANGES: ReadonlyArray<readonly [number, number]> = [
  [32, 40],
  [96, 108],
  [136, 144],
];
const S_IFMT = 0o170000;

const DT_FIFO = 1;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;
const DT_UNKNOWN = 0;

interface Libc {
  openat(dirfd: number, path: string, flags: number): number;
  read(fd: number, buf: Buffer, n: number): number | bigint;
  close(fd: number): number;
  getdents64(fd: number, buf: Buffer, n: number): number | bigint;
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Buffer): number;
  errno(): number;
}

let reader: Libc | null | undefined;

/** The calls of the reader, or null where libc cannot be had (no koffi build, no glibc). */
function loadLibc(): Libc | null {
  if (reader !== undefined) return reader;
  const c = libc();
  reader =
    'error' in c
      ? null
      : ({
          // glibc's openat reads a mode only with O_CREAT or O_TMPFILE, never passed here.
          openat: c.func('int openat(int dirfd, const char *path, int flags)'),
          read: c.func('intptr_t read(int fd, void *buf, size_t n)'),
          close: c.func('int close(int fd)'),
          getdents64: c.func('intptr_t getdents64(int fd, void *buf, size_t n)'),
          statx: c.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)'),
          errno: c.errno,
        } as unknown as Libc);
  return reader;
}

/** Whether this process can use the libc reader; loads koffi on the first call. */
export function libcReaderAvailable(): boolean {
  return loadLibc() !== null;
}

/** A failed call's errno as a negative number, the convention of AttrFileOps. */
function orErrno(c: Libc, rc: number | bigint): number {
  const n = Number(rc);
  return n < 0 ? -c.errno() : n;
}

function kindOfMode(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    case 0o010000:
      return 'fifo';
    default:
      return 'other';
  }
}

/** Reads entries under one registry root; open() before, close() after. Not reentrant. */
export class LibcEntryReader {
  private readonly c: Libc;
  private rootFd = -1;
  private root = '';
  /** The entry directory the attribute ops work under. */
  private dirFd = -1;
  private readonly dents = Buffer.allocUnsafe(32 * 1024);
  private readonly before = Buffer.alloc(STATX_SIZE);
  private readonly after = Buffer.alloc(STATX_SIZE);
  private readonly probe = Buffer.alloc(STATX_SIZE);
  private readonly ops: AttrFileOps<string>;

  constructor() {
    const c = loadLibc();
    if (c === null)
      throw new NvmfError('EIO', 'the libc reader is not available on this host (koffi or glibc missing)');
    this.c = c;
    this.ops = {
      open: (name) => orErrno(c, c.openat(this.dirFd, name, FILE_FLAGS)),
      read: (fd, buf, length) => orErrno(c, c.read(fd, buf, length)),
      kind: (fd) => {
        if (c.statx(fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS, this.probe) < 0) {
          throw errnoError(c.errno(), 'statx');
        }
        return kindOfMode(this.probe.readUInt16LE(STX_MODE));
      },
      close: (fd) => {
        c.close(fd);
      },
    };
  }

  /** Open the root the entries are read under (it was checked to be a real directory). */
  open(root: string): void {
    this.close();
    const fd = this.c.openat(AT_FDCWD, root, DIR_FLAGS);
    if (fd < 0)
      throw ioError(errnoError(this.c.errno(), 'open'), `cannot list registry ${JSON.stringify(root)}`);
    this.rootFd = fd;
    this.root = root;
  }

  close(): void {
    if (this.rootFd >= 0) this.c.close(this.rootFd);
    this.rootFd = -1;
  }

  /** One entry, read whole from one directory that did not change meanwhile; retried as the path reader is. */
  readEntry(device: string, nodeExists: (device: string) => boolean): Entry {
    const dir = under(this.root, device);
    for (let attempt = 0; attempt < 8; attempt++) {
      const fd = this.c.openat(this.rootFd, device, DIR_FLAGS);
      if (fd < 0) throw this.openEntryFailure(this.c.errno(), dir, device);
      let entry: Entry | null = null;
      let failure: NvmfError | null = null;
      try {
        this.stat(fd, this.before, device);
        this.dirFd = fd;
        try {
          entry = entryFrom(this.entryDir(device, dir), this.names(fd, dir, device), nodeExists);
        } catch (e) {
          if (!(e instanceof NvmfError)) throw e;
          failure = e;
        }
        // The "after" is asked of the path, not of the open directory: a delete renames the
        // entry away before purging it, so a purge under our descriptor shows as the path
        // naming another directory, or none, whatever the timestamps' granularity.
        if (this.c.statx(this.rootFd, device, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, this.after) < 0) {
          this.after.fill(0);
        }
      } finally {
        this.dirFd = -1;
        this.c.close(fd);
      }
      if (this.unchanged()) {
        if (failure !== null) throw failure;
        return entry!;
      }
    }
    throw new NvmfError('EIO', `${device} kept being replaced while it was read; retry`, { device });
  }

  private entryDir(device: string, dir: string): EntryDir<string> {
    return {
      device,
      dir,
      ops: this.ops,
      target: (name) => name,
      present: (name) => this.c.statx(this.dirFd, name, AT_SYMLINK_NOFOLLOW, 0, this.probe) === 0,
    };
  }

  private openEntryFailure(errno: number, dir: string, device: string): NvmfError {
    if (errno === ENOENT) return vanished(device);
    // O_DIRECTORY answers ENOTDIR before O_NOFOLLOW's ELOOP: look at what stands there.
    if (errno === ENOTDIR || errno === ELOOP) {
      const st = lstatOrNull(dir);
      if (st === null) return vanished(device);
      if (!st.isDirectory()) return notADirectory(st.isSymbolicLink(), dir, 'entry', { device });
    }
    return ioError(errnoError(errno, 'open'), `cannot read entry ${device}`, { device });
  }

  private stat(fd: number, buf: Buffer, device: string): void {
    if (this.c.statx(fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS, buf) < 0) {
      throw ioError(errnoError(this.c.errno(), 'statx'), `cannot inspect entry ${device}`, { device });
    }
  }

  private unchanged(): boolean {
    const a = this.before;
    const b = this.after;
    for (const [from, to] of IDENTITY_RANGES) for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** The names of the open directory `fd`, typed; DT_UNKNOWN is asked of statx. */
  private names(fd: number, dir: string, device: string): DirName[] {
    const out: DirName[] = [];
    const buf = this.dents;
    for (;;) {
      const n = Number(this.c.getdents64(fd, buf, buf.length));
      if (n < 0)
        throw ioError(errnoError(this.c.errno(), 'getdents64'), `cannot read entry ${device}`, { device });
      if (n === 0) return out;
      // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, then the NUL-terminated name.
      for (let off = 0; off < n;) {
        const reclen = buf.readUInt16LE(off + 16);
        const type = buf[off + 18]!;
        // '.', '..' and every hidden name are the writers' own business, never attributes.
        if (buf[off + 19] !== 0x2e) {
          const end = buf.indexOf(0, off + 19);
          const name = buf.toString('utf8', off + 19, end < 0 || end > off + reclen ? off + reclen : end);
          out.push({ name, kind: this.kindOf(type, fd, name, dir, device) });
        }
        off += reclen;
      }
    }
  }

  private kindOf(type: number, fd: number, name: string, dir: string, device: string): FileKind {
    switch (type) {
      case DT_REG:
        return 'file';
      case DT_DIR:
        return 'directory';
      case DT_LNK:
        return 'symlink';
      case DT_FIFO:
        return 'fifo';
      case DT_UNKNOWN: {
        if (this.c.statx(fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, this.probe) < 0) {
          const errno = this.c.errno();
          // Gone since the getdents: absent, as a read of it would find it.
          if (errno === ENOENT) return 'file';
          throw ioError(errnoError(errno, 'statx'), `cannot inspect ${JSON.stringify(under(dir, name))}`, {
            device,
          });
        }
        return kindOfMode(this.probe.readUInt16LE(STX_MODE));
      }
      default:
        return 'other';
    }
  }
}
