import { createRequire } from 'node:module';

/**
 * Send one datagram to an AF_UNIX SOCK_DGRAM socket. Node has no unix datagram sockets, so
 * this calls libc `socket`/`sendto` through koffi. koffi is loaded on first use only: most
 * commands never write an audit record and must not pay for loading a native module.
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH_MAX = 108;

interface Libc {
  socket: (domain: number, type: number, proto: number) => number;
  sendto: (
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
    addr: Buffer,
    addrlen: number,
  ) => number | bigint;
  close: (fd: number) => number;
  errno: () => number;
  errnoName: (n: number) => string;
}

let libc: Libc | null = null;

function loadLibc(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const names = new Map<number, string>();
  for (const [name, n] of Object.entries(koffi.os.errno)) names.set(n, name);
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
    ),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
    errnoName: (n) => names.get(n) ?? `errno ${n}`,
  };
  return libc;
}

export class DatagramError extends Error {
  override readonly name = 'DatagramError';
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super(message);
  }
}

/** One unbound datagram socket per process, opened on first send. */
let sharedFd = -1;

function sockaddr(path: string): { addr: Buffer; len: number } {
  const p = Buffer.from(path, 'utf8');
  if (p.length >= SUN_PATH_MAX) throw new DatagramError('ENAMETOOLONG', `socket path too long: ${path}`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  p.copy(addr, 2);
  return { addr, len: 2 + p.length + 1 };
}

/** Send `payload` as one datagram to the socket at `path`; throws `DatagramError` on failure. */
export function sendDatagram(path: string, payload: Buffer): void {
  const c = loadLibc();
  if (sharedFd < 0) {
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const e = c.errnoName(c.errno());
      throw new DatagramError(e, `socket(AF_UNIX, SOCK_DGRAM) failed: ${e}`);
    }
    sharedFd = fd;
  }
  const { addr, len } = sockaddr(path);
  const n = Number(c.sendto(sharedFd, payload, payload.length, MSG_NOSIGNAL, addr, len));
  if (n < 0) {
    const e = c.errnoName(c.errno());
    throw new DatagramError(e, `sendto ${path} failed: ${e}`);
  }
  if (n !== payload.length)
    throw new DatagramError('EMSGSIZE', `sendto ${path} sent ${n} of ${payload.length} bytes`);
}
