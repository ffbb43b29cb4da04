import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import { NvmfError } from '../errors.js';
import { errnoError, ioError, lstatOrNull, under } from './fsx.js';
import { libc } from './libc.js';
import { quote } from './names.js';

/**
 * The per-device lock: an exclusive flock(2) on the file `<root>/.nvmeN.flock`, taken by
 * every library writer, by gc and by the udev helper (flock(1) on a descriptor of the same
 * file). The kernel drops a flock when the last descriptor of its holder closes, a crash
 * included, so no lock is ever stale and nothing is ever taken over (REGISTRY.md, "Locking").
 *
 * The file is unlinked by its holder on release, so the registry keeps no lock files. That
 * is safe because of one invariant, kept by every user: the path is unlinked only by a
 * holder of the flock on the inode the path names. A taker therefore checks, after its
 * flock succeeds, that the path still names the inode it locked; if not, the holder before
 * it unlinked the file on release, and it locks the path's current file instead.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 5000;

export function lockPath(root: string, device: string): string {
  return under(root, `.${device}.flock`);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms` (the registry API is synchronous by contract). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EINTR = 4;
const EWOULDBLOCK = 11;

interface Flock {
  flock(fd: number, op: number): number;
  errno(): number;
}

let flockLib: Flock | null = null;

/** libc flock through koffi, loaded on the first lock of the process. */
function loadFlock(): Flock {
  if (flockLib !== null) return flockLib;
  const c = libc();
  if ('error' in c) {
    throw new NvmfError(
      'EIO',
      `cannot load flock(2) from libc through koffi: ${c.error instanceof Error ? c.error.message : String(c.error)}`,
      {},
      { cause: c.error },
    );
  }
  flockLib = { flock: c.func('int flock(int fd, int op)') as unknown as Flock['flock'], errno: c.errno };
  return flockLib;
}

/** A held lock: the locked descriptor. */
interface Held {
  fd: number;
  lp: string;
}

/** open(O_CREAT) never follows a symlink planted at the lock path, nor opens a directory for writing. */
const OPEN_FLAGS = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;

/**
 * One non-blocking attempt. Null = another holder has it. An inode that is no longer the
 * one the path names (unlinked by the holder before us, or by gc) is let go and the path's
 * current file tried at once; after a bounded number of such races the attempt counts as busy.
 */
function tryLock(lp: string, device: string): Held | null {
  const lib = loadFlock();
  for (let i = 0; i < 16; i++) {
    let fd: number;
    try {
      fd = fs.openSync(lp, OPEN_FLAGS, 0o644);
    } catch (e) {
      throw ioError(e, `cannot open lock ${quote(lp)} of ${device}`, { device, lock: lp });
    }
    let rc: number;
    let errno = 0;
    do {
      rc = lib.flock(fd, LOCK_EX | LOCK_NB);
      if (rc !== 0) errno = lib.errno();
    } while (rc !== 0 && errno === EINTR);
    if (rc !== 0) {
      fs.closeSync(fd);
      if (errno === EWOULDBLOCK) return null;
      throw ioError(errnoError(errno, 'flock'), `cannot take lock ${quote(lp)} of ${device}`, {
        device,
        lock: lp,
      });
    }
    let same: boolean;
    try {
      const mine = fs.fstatSync(fd);
      if (!mine.isFile()) {
        throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
      }
      const named = lstatOrNull(lp);
      same = named !== null && named.ino === mine.ino && named.dev === mine.dev;
    } catch (e) {
      fs.closeSync(fd);
      throw ioError(e, `cannot take lock ${quote(lp)} of ${device}`, { device, lock: lp });
    }
    if (same) return { fd, lp };
    fs.closeSync(fd);
  }
  return null;
}

/** Unlink while still holding (the invariant above), then close, which drops the flock. */
function unlock(h: Held): void {
  try {
    fs.unlinkSync(h.lp);
  } catch {
    // removed by hand: nothing of ours left to remove, and closing still unlocks
  }
  fs.closeSync(h.fd);
}

function lockedError(device: string, lp: string, timeoutMs: number): NvmfError {
  return new NvmfError(
    'ELOCKED',
    `${device} is locked by another writer (${quote(lp)}) for over ${timeoutMs} ms; retry later`,
    { device, lock: lp },
  );
}

/** Test hooks of a lock wait. */
export interface LockWaitHooks {
  /** Called once, when the first attempt finds the lock held (the wait begins). */
  onBusy?: () => void;
}

/**
 * Test seam: told of every wait that begins in this process, with the lock's path, so a
 * test can force an interleaving on a lock taken deep inside another call.
 */
export const lockWaitObserver: { onBusy?: (lockPath: string) => void } = {};

/**
 * Lock paths held by asynchronous holders of this process, and, through the async context,
 * the ones held by the operation now running: a nested take of a lock the same operation
 * holds is re-entrant, and a synchronous take of one that another async operation of this
 * process holds fails at once, since blocking the thread would keep that holder from ever
 * reaching its release.
 */
const heldAsync = new Set<string>();
const heldByThisOperation = new AsyncLocalStorage<Set<string>>();

/**
 * Run `fn` holding the lock of `device`, waiting with a short jittered backoff (critical
 * sections are a few syscalls long) for at most `timeoutMs`, then ELOCKED. Synchronous:
 * for the registry's synchronous API.
 */
export function withDeviceLock<T>(
  root: string,
  device: string,
  fn: () => T,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
  hooks: LockWaitHooks = {},
): T {
  const lp = lockPath(root, device);
  if (heldByThisOperation.getStore()?.has(lp) === true) return fn();
  if (heldAsync.has(lp)) {
    throw new NvmfError(
      'ELOCKED',
      `${device} is locked (${quote(lp)}) by an asynchronous operation of this process, which a synchronous wait would block; retry once it is done`,
      { device, lock: lp },
    );
  }
  let held = tryLock(lp, device);
  if (held === null) {
    hooks.onBusy?.();
    lockWaitObserver.onBusy?.(lp);
    const deadline = Date.now() + timeoutMs;
    let delay = 0.05;
    while (held === null) {
      if (Date.now() >= deadline) throw lockedError(device, lp, timeoutMs);
      sleepSync(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 5);
      held = tryLock(lp, device);
    }
  }
  try {
    return fn();
  } finally {
    unlock(held);
  }
}

/**
 * The same lock for asynchronous callers: the wait polls with awaited backoff, so the event
 * loop keeps running, and `fn` may await while holding (disconnect-all holds the lock
 * across its delete). Registry calls inside `fn` on the same device are re-entrant.
 */
export async function withDeviceLockAsync<T>(
  root: string,
  device: string,
  fn: () => Promise<T>,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
  hooks: LockWaitHooks = {},
): Promise<T> {
  const lp = lockPath(root, device);
  const outer = heldByThisOperation.getStore();
  if (outer?.has(lp) === true) return fn();
  let held = tryLock(lp, device);
  if (held === null) {
    hooks.onBusy?.();
    lockWaitObserver.onBusy?.(lp);
    const deadline = Date.now() + timeoutMs;
    let delay = 1;
    while (held === null) {
      if (Date.now() >= deadline) throw lockedError(device, lp, timeoutMs);
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 20);
      held = tryLock(lp, device);
    }
  }
  const mine = new Set(outer);
  mine.add(lp);
  heldAsync.add(lp);
  try {
    return await heldByThisOperation.run(mine, fn);
  } finally {
    // A callback `fn` left behind keeps this context: it must not think it still holds the lock.
    mine.delete(lp);
    heldAsync.delete(lp);
    unlock(held);
  }
}

/**
 * gc: remove a lock file a crashed holder left behind, if nobody holds it now. Never waits.
 * Returns whether it was removed (with `dryRun`: whether it would have been).
 */
export function removeIdleLock(root: string, device: string, dryRun = false): boolean {
  const lp = lockPath(root, device);
  if (heldAsync.has(lp) || lstatOrNull(lp) === null) return false;
  const held = tryLock(lp, device);
  if (held === null) return false;
  if (dryRun) fs.closeSync(held.fd);
  else unlock(held);
  return true;
}
