import fs from 'node:fs';
import path from 'node:path';
import {
  checkOptionalBoolean,
  checkOptionalFunction,
  checkOptionalNumber,
  checkRecord,
  describe,
  invalidOption,
} from '../args.js';
import { isNvmfError } from '../errors.js';
import { readAttrFile } from '../registry/fsx.js';
import { isInternalName } from '../nvme/names.js';
import { isDevice } from '../registry/index.js';
import { diffEntry, type EntryState, type RegistryEvent } from './registry-diff.js';

export type { EntryState, RegistryEvent, RegistryEventType } from './registry-diff.js';

/**
 * Watch a registry root and report ownership changes.
 *
 * Design: filesystem notifications are only a trigger. On each one the watcher re-reads the
 * entry it concerns and compares it with the state it last emitted for that device, so
 * coalesced, reordered or duplicated notifications cannot produce a duplicate event or a
 * chain that does not add up, and the last state always gets reported. What it cannot do
 * is see a state that lived shorter than the gap between two reads (A -> B -> A between
 * reads is no change at all): the events are the observed transitions, a subsequence of the
 * real history that ends in the real final state. docs/audit.md says so for operators.
 *
 * chokidar drops notifications on purpose: a `change` of a path within 50 ms of the last
 * one is swallowed (leading-edge throttle, no trailing call), `unlink` within 100 ms too.
 * A change in that window would never be reported. So every notification also arms a
 * trailing re-read of its device, later than chokidar's longest window; the last change of
 * a burst is then always read. Measured here: chokidar 5 also loses an entry directory that
 * is removed and re-created quickly (the new directory is never watched again, so a later
 * owner change produces no notification at all). So the watcher keeps its own
 * `fs.watch` on every entry directory it reads, installed before the read and replaced
 * when the directory's inode changes; chokidar remains the trigger for the root. A periodic
 * rescan is the backstop for anything else (an inotify queue overflow).
 */

export interface RegistryWatchOptions {
  onEvent(event: RegistryEvent): void;
  /** A notification or read failed; the watcher keeps going. */
  onError?(error: Error): void;
  /** Report entries already present at start as `created`/`claimed` (default false). */
  emitInitial?: boolean;
  now?: () => Date;
  /** Re-read a device this long after its last notification (default 150 ms). */
  trailingMs?: number;
  /** Full rescan period; 0 disables it (default 5000 ms). */
  rescanIntervalMs?: number;
}

/** Longer than chokidar's longest suppression window (100 ms for unlink / atomic writes). */
export const TRAILING_READ_MS = 150;
export const RESCAN_INTERVAL_MS = 5000;

export interface RegistryWatcher {
  /** The state last emitted for each present entry. */
  snapshot(): Map<string, { owner: string | null }>;
  /** Re-read every entry and emit what differs (also the recovery path after an error). */
  rescan(): void;
  close(): Promise<void>;
}

/** Read one entry as the watcher sees it. Throws NvmfError for entries it cannot read. */
export function readEntryState(root: string, device: string): EntryState {
  const dir = path.join(root, device);
  const isDir = (): boolean => {
    try {
      return fs.lstatSync(dir).isDirectory();
    } catch {
      return false;
    }
  };
  if (!isDir()) return null;
  const owner = readAttrFile(path.join(dir, 'owner'), { device, attr: 'owner' });
  // Deleted between the two reads: report it gone, not as a spurious "released".
  if (owner === null && !isDir()) return null;
  return { owner };
}

export async function watchRegistry(root: string, options: RegistryWatchOptions): Promise<RegistryWatcher> {
  const opts = checkWatchOptions(root, options);
  const now = opts.now ?? (() => new Date());
  const onError = opts.onError ?? (() => {});
  const trailingMs = opts.trailingMs ?? TRAILING_READ_MS;
  const rescanMs = opts.rescanIntervalMs ?? RESCAN_INTERVAL_MS;
  const last = new Map<string, { owner: string | null }>();
  const trailing = new Map<string, NodeJS.Timeout>();
  const entryWatches = new Map<string, { ino: number; w: fs.FSWatcher }>();
  let ready = false;
  let closed = false;

  const unwatchEntry = (device: string): void => {
    entryWatches.get(device)?.w.close();
    entryWatches.delete(device);
  };

  // Installed before the entry is read: a change after this point notifies, a change
  // before it is in the read.
  const watchEntry = (device: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(root, device));
    } catch {
      unwatchEntry(device);
      return;
    }
    if (!st.isDirectory()) {
      unwatchEntry(device);
      return;
    }
    if (entryWatches.get(device)?.ino === st.ino) return;
    unwatchEntry(device);
    try {
      const w = fs.watch(path.join(root, device), { persistent: false }, () => notifyDevice(device));
      w.on('error', () => {
        // the directory went away under the watch; the next read notices
        if (entryWatches.get(device)?.w === w) unwatchEntry(device);
        notifyDevice(device);
      });
      entryWatches.set(device, { ino: st.ino, w });
    } catch {
      // gone between lstat and watch: the read that follows reports it
    }
  };

  const update = (device: string): void => {
    if (closed) return;
    watchEntry(device);
    let next: EntryState;
    try {
      next = readEntryState(root, device);
    } catch (e) {
      // An unreadable entry (symlink, junk) keeps its last state; say why.
      onError(isNvmfError(e) || e instanceof Error ? e : new Error(String(e)));
      return;
    }
    const prev = last.get(device) ?? null;
    const event = diffEntry(device, prev, next, now().toISOString());
    if (next === null) last.delete(device);
    else last.set(device, next);
    if (event && !closed) opts.onEvent(event);
  };

  const listDevices = (): string[] => {
    try {
      return fs.readdirSync(root).filter((n) => !isInternalName(n) && isDevice(n));
    } catch (e) {
      onError(e instanceof Error ? e : new Error(String(e)));
      return [];
    }
  };

  const rescan = (): void => {
    const seen = new Set(listDevices());
    for (const d of last.keys()) seen.add(d);
    for (const d of seen) update(d);
  };

  const { watch } = await import('chokidar');
  const watcher = watch(root, {
    depth: 1,
    ignoreInitial: true,
    // Only the basename matters: the root itself may sit under a dot-directory.
    ignored: (p: string) => p !== root && isInternalName(path.basename(p)),
  });

  const notified = (p: string): void => {
    const rel = path.relative(root, p);
    if (rel === '' || rel.startsWith('..')) {
      if (ready) rescan();
      return;
    }
    const device = rel.split(path.sep)[0]!;
    if (isDevice(device)) notifyDevice(device);
  };

  function notifyDevice(device: string): void {
    if (!ready || closed) return; // the snapshot taken at "ready" covers everything before it
    update(device);
    clearTimeout(trailing.get(device));
    trailing.set(
      device,
      setTimeout(() => {
        trailing.delete(device);
        if (!closed) update(device);
      }, trailingMs),
    );
  }
  watcher.on('all', (_event: string, p: string) => notified(p));
  watcher.on('error', (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));

  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  if (opts.emitInitial) {
    ready = true;
    rescan();
  } else {
    for (const d of listDevices()) {
      try {
        watchEntry(d);
        const s = readEntryState(root, d);
        if (s) last.set(d, s);
      } catch (e) {
        onError(e instanceof Error ? e : new Error(String(e)));
      }
    }
    ready = true;
    // Anything that changed between chokidar's scan and our snapshot was read by the
    // snapshot itself; anything after it arrives as a notification.
  }

  const timer = rescanMs > 0 ? setInterval(() => !closed && rescan(), rescanMs) : null;
  timer?.unref();

  return {
    snapshot: () => new Map(last),
    rescan,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      for (const t of trailing.values()) clearTimeout(t);
      trailing.clear();
      for (const d of [...entryWatches.keys()]) unwatchEntry(d);
      await watcher.close();
    },
  };
}

/** watchRegistry's arguments, type-checked and read once. */
function checkWatchOptions(root: unknown, v: unknown): RegistryWatchOptions {
  const what = 'watchRegistry';
  if (typeof root !== 'string' || root === '')
    throw invalidOption(what, `root must be the registry root's path, got ${describe(root)}`);
  const o = checkRecord(v, what, [
    'onEvent',
    'onError',
    'emitInitial',
    'now',
    'trailingMs',
    'rescanIntervalMs',
  ]);
  const onEvent = checkOptionalFunction<RegistryWatchOptions['onEvent']>(o.onEvent, what, 'onEvent');
  if (onEvent === undefined) throw invalidOption(what, 'onEvent is required');
  const out: RegistryWatchOptions = { onEvent };
  const onError = checkOptionalFunction<(e: Error) => void>(o.onError, what, 'onError');
  if (onError !== undefined) out.onError = onError;
  const emitInitial = checkOptionalBoolean(o.emitInitial, what, 'emitInitial');
  if (emitInitial !== undefined) out.emitInitial = emitInitial;
  const clock = checkOptionalFunction<() => Date>(o.now, what, 'now');
  if (clock !== undefined) out.now = clock;
  const trailingMs = checkOptionalNumber(o.trailingMs, what, 'trailingMs', { min: 0 });
  if (trailingMs !== undefined) out.trailingMs = trailingMs;
  const rescan = checkOptionalNumber(o.rescanIntervalMs, what, 'rescanIntervalMs', { min: 0 });
  if (rescan !== undefined) out.rescanIntervalMs = rescan;
  return out;
}
