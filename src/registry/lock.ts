import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as ProperLockfile from 'proper-lockfile';
import { errnoOf, NvmfError } from '../errors.js';
import { ioError, under } from './fsx.js';
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
  return under(root, `.${device}.lock`);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms` (the registry API is synchronous by contract). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

type Release = () => void;

/**
 * proper-lockfile (with graceful-fs, retry and signal-exit) is only needed to judge and take
 * over a lock that already exists; loading it costs more than a whole uncontended write
 * (measured ~12 ms of CPU), so it is required synchronously on the first takeover attempt.
 */
let properLockfile: typeof ProperLockfile | null = null;
function lockfileModule(): typeof ProperLockfile {
  // The literal id matters: a bundler includes `require('proper-lockfile')` but not a
  // require of a variable. A CommonJS bundle of the library has require (and bundles this literal call) but no
  // import.meta.url; the ES build has import.meta.url but no require.
  properLockfile ??= (
    typeof require === 'function'
      ? require('proper-lockfile')
      : createRequire(import.meta.url)('proper-lockfile')
  ) as typeof ProperLockfile;
  return properLockfile;
}

/**
 * The uncontended path: one mkdir to take, one rmdir to release, the protocol's whole cost.
 * proper-lockfile's lockSync does the same mkdir but adds an mtime-precision probe (utimes +
 * stat), a refresh timer that cannot fire inside a synchronous critical section, and a
 * wrapped fs built per call; profiled, those were most of a registry write's time.
 */
function tryMkdir(lp: string, device: string): Release | null {
  try {
    fs.mkdirSync(lp);
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return null;
    throw ioError(e, `cannot take lock ${quote(lp)} of ${device}`, { device });
  }
  return () => {
    try {
      fs.rmdirSync(lp);
    } catch {
      // already taken over as stale: nothing of ours left to remove
    }
  };
}

/**
 * The lock exists: proper-lockfile decides by its own rules whether it is stale and, if so,
 * takes it over (remove, then mkdir). Held and fresh = null.
 */
function tryTakeover(root: string, device: string, lp: string): Release | null {
  let release: Release;
  try {
    release = lockfileModule().lockSync(path.join(root, device), {
      lockfilePath: lp,
      realpath: false,
      stale: LOCK_STALE_MS,
      // The refresh timer cannot fire inside a synchronous critical section; a compromise
      // can only be reported after release, when there is nothing left to protect.
      onCompromised: () => {},
    });
  } catch (e) {
    if (errnoOf(e) === 'ELOCKED') return null;
    throw ioError(e, `cannot take lock ${quote(lp)} of ${device}`, { device });
  }
  return () => {
    try {
      release();
    } catch {
      // already taken over as stale: nothing of ours left to remove
    }
  };
}

/**
 * Run `fn` holding the lock of `device`, retrying with a short jittered backoff: critical
 * sections are a few syscalls long.
 */
export function withDeviceLock<T>(
  root: string,
  device: string,
  fn: () => T,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
): T {
  const lp = lockPath(root, device);
  let release = tryMkdir(lp, device);
  if (release === null) {
    const deadline = Date.now() + timeoutMs;
    let delay = 0.05;
    for (;;) {
      release = tryTakeover(root, device, lp);
      if (release !== null) break;
      if (Date.now() >= deadline) {
        throw new NvmfError(
          'ELOCKED',
          `${device} is locked by another writer (${quote(lp)}) for over ${timeoutMs} ms; retry, or remove the lock directory if its holder is gone`,
          { device, lock: lp },
        );
      }
      sleepSync(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 5);
      release = tryMkdir(lp, device);
      if (release !== null) break;
    }
  }
  try {
    return fn();
  } finally {
    release();
  }
}
