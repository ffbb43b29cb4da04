import { DISCOVERY_LOG_ID } from '../nvme/discovery-log.js';
import { encodeAdminCmd, getLogPageCmd, type LogReader, NVME_IOCTL_ADMIN_CMD } from './admin-cmd.js';

/**
 * The real NVMe admin passthrough through koffi (libc `ioctl`). Loaded lazily: only discovery
 * needs it, and most commands must not pay for loading a native module.
 */
export interface AdminIoctl {
  /** Issue `cmd` (72 bytes) on `fd`, data buffer of `dataLen` bytes; resolves the data read. */
  getLogPage(
    fd: number,
    p: { lid: number; offset: number; length: number; rae: boolean },
  ): Promise<Uint8Array>;
}

export class IoctlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let cached: Promise<AdminIoctl> | undefined;

export function loadAdminIoctl(): Promise<AdminIoctl> {
  cached ??= (async () => {
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libc.so.6');
    const ioctl = lib.func('int ioctl(int fd, unsigned long request, void *arg)');
    const names = new Map<number, string>();
    for (const [name, num] of Object.entries(koffi.os.errno)) if (!names.has(num)) names.set(num, name);
    return {
      getLogPage(fd, p) {
        const data = koffi.alloc('uint8_t', p.length);
        const cmd = Buffer.from(encodeAdminCmd(getLogPageCmd({ ...p, addr: koffi.address(data) })));
        return new Promise<Uint8Array>((resolve, reject) => {
          // async: the admin command can wait for the fabric for up to the admin timeout, and
          // runs on koffi's worker thread so the event loop keeps going.
          ioctl.async(fd, NVME_IOCTL_ADMIN_CMD, cmd, (err: unknown, rc: number) => {
            try {
              if (err) {
                reject(err);
              } else if (rc < 0) {
                const n = koffi.errno();
                const name = names.get(n) ?? `errno ${n}`;
                reject(new IoctlError(name, `NVME_IOCTL_ADMIN_CMD failed: ${name}`));
              } else if (rc > 0) {
                // A positive return is the NVMe status field of a completed-with-error command.
                reject(new IoctlError('EIO', `Get Log Page failed with NVMe status 0x${rc.toString(16)}`));
              } else {
                resolve(new Uint8Array(koffi.view(data, p.length).slice(0)));
              }
            } finally {
              koffi.free(data);
            }
          });
        });
      },
    };
  })();
  return cached;
}

/** A LogReader for the discovery log over an open `/dev/nvmeN` fd. */
export function discoveryReader(io: AdminIoctl, fd: number): LogReader {
  return (p) => io.getLogPage(fd, { lid: DISCOVERY_LOG_ID, ...p });
}
