import path from 'node:path';
import lockfile from 'proper-lockfile';
import { errnoOf, NvmfError } from '../errors.js';
import { ioError } from './fsx.js';
import { quote } from './names.js';

/**
 * The per-device lock: directory `<root>/.nvmeN.lock` made with mkdir, proper-lockfile's
 * protocol, so the POSIX-sh udev helper can take the same lock with `mkdir`. A lock whose
 * mtime is older than LOCK_STALE_MS belongs to a crashed holder and may be taken over.
 */
export const LOCK_STALE_MS = 5000;
/** Long enough to outwait a crashed holder's lock going stale, so a crash never blocks writers for good. */
export const DEFAULT_LOCK_TIMEOUT_MS = LOCK_STALE_MS + 1500;

export function lockPath(root: string, device: string): string {
  return path.join(root, `.${device}.lock`);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms` (the registry API is synchronous by contract). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Run `fn` holding the lock of `device`. lockSync does not retry, so we do, with a short
 * jittered backoff: critical sections are a few syscalls long.
 */
export function withDeviceLock<T>(
  root: string,
  device: string,
  fn: () => T,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
): T {
  const lp = lockPath(root, device);
  const deadline = Date.now() + timeoutMs;
  let delay = 0.05;
  let release: (() => void) | undefined;
  for (;;) {
    try {
      release = lockfile.lockSync(path.join(root, device), {
        lockfilePath: lp,
        realpath: false,
        stale: LOCK_STALE_MS,
        // The update timer cannot fire inside a synchronous critical section; a compromise
        // can only be reported after release, when there is nothing left to protect.
        onCompromised: () => {},
      });
      break;
    } catch (e) {
      if (errnoOf(e) !== 'ELOCKED')
        throw ioError(e, `cannot take lock ${quote(lp)} of ${device}`, { device });
      if (Date.now() >= deadline) {
        throw new NvmfError(
          'ELOCKED',
          `${device} is locked by another writer (${quote(lp)}) for over ${timeoutMs} ms; retry, or remove the lock directory if its holder is gone`,
          { device, lock: lp },
        );
      }
      sleepSync(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 5);
    }
  }
  try {
    return fn();
  } finally {
    try {
      release();
    } catch {
      // already taken over as stale: nothing of ours left to remove
    }
  }
}
