import fs from 'node:fs';
import path from 'node:path';
import { errnoOf, isNvmfError } from '../errors.js';
import { lstatOrNull, readAttrFile, removeTree, replaceFile, requireDir, uniqueSuffix } from './fsx.js';
import { INTENT_RE, pidAlive, readIntent } from './intents.js';
import { removeIdleLock, withDeviceLock } from './lock.js';
import { isDevice, isInternalName, naturalCompare, parseSeqnum } from './names.js';
import type { RegistryContext } from './registry.js';

export type GcKind = 'entry' | 'temp' | 'trash' | 'attr-temp' | 'intent' | 'lock';

export interface GcItem {
  path: string;
  kind: GcKind;
  reason: string;
  device?: string;
}

export interface GcReport {
  /** What was removed (with dryRun: what would have been). */
  removed: GcItem[];
  /** Entries whose controller looked gone but which were kept, and why. */
  kept: GcItem[];
  dryRun: boolean;
}

export interface GcOptions {
  /** Leftovers younger than this may belong to a writer still at work. Default 60 s. */
  graceMs?: number;
  dryRun?: boolean;
  /**
   * "The controller of this entry is gone." Default: its device node is absent (guard 1).
   * The seqnum guard applies on top, whatever this says.
   */
  isStale?: (device: string) => boolean;
}

export const DEFAULT_GC_GRACE_MS = 60_000;

const TEMP_RE = /^\.(nvme[0-9]+|intent)\.tmp\./;
const TRASH_RE = /^\.nvme[0-9]+\.trash\./;
/** Lock files: flock(2), never stale; removed only when nobody holds them (lock.ts). */
const LOCK_RE = /^\.(nvme[0-9]+)\.flock$/;
/** Lock directories of versions before the flock lock (mkdir protocol). */
const LEGACY_LOCK_RE = /^\.nvme[0-9]+\.lock$/;

/**
 * Sweep what crashed writers and removed controllers left behind.
 *
 * Entries: removed under the device lock only when the controller is gone (no device node)
 * AND the entry's seqnum stamp is older than the uevent seqnum read before any check.
 * Under the lock, no library writer can slip in; the stamp guard covers writers that do
 * not take our lock (libnvme): a controller created after our read of the reference
 * seqnum emits its add uevent after it, so its stamp is necessarily greater, and is kept.
 */
export function runGc(ctx: RegistryContext, opts: GcOptions): GcReport {
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  const dryRun = opts.dryRun ?? false;
  const report: GcReport = { removed: [], kept: [], dryRun };
  const root = ctx.root;
  const rootSt = lstatOrNull(root);
  if (rootSt === null) return report;
  requireDir(rootSt, root, 'registry root');

  const now = ctx.now();
  const stampedBoot = safeRead(() => readAttrFile(path.join(root, '.boot_id'), {}));
  const thisBoot = ctx.currentBootId();
  const earlierBoot = stampedBoot !== null && thisBoot !== null && stampedBoot !== thisBoot;
  let ref: number | null;
  try {
    ref = ctx.readSeqnum();
  } catch {
    ref = null;
  }

  const remove = (item: GcItem, fn: () => void): void => {
    if (!dryRun) {
      try {
        fn();
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return; // someone else swept it first
        report.kept.push({ ...item, reason: `${item.reason}; removal failed: ${errnoOf(e) ?? String(e)}` });
        return;
      }
      ctx.emit({
        action: 'gc-removed',
        by: 'gc',
        reason: item.reason,
        ...(item.device ? { device: item.device } : {}),
        extra: { kind: item.kind, path: item.path },
      });
    }
    report.removed.push(item);
  };
  const ageOf = (st: fs.Stats): number => now - st.mtimeMs;

  const names = fs.readdirSync(root).sort(naturalCompare);
  for (const name of names) {
    const p = path.join(root, name);
    if (isDevice(name)) {
      gcEntry(ctx, name, p, {
        earlierBoot,
        ref,
        graceMs,
        now,
        isStale: opts.isStale,
        dryRun,
        report,
        remove,
      });
      continue;
    }
    const st = lstatOrNull(p);
    if (st === null) continue;
    const old = earlierBoot
      ? 'left from an earlier boot'
      : ageOf(st) > graceMs
        ? `older than ${graceMs} ms`
        : null;
    if (TEMP_RE.test(name)) {
      if (old) remove({ path: p, kind: 'temp', reason: `unfinished write ${old}` }, () => removeTree(p));
    } else if (TRASH_RE.test(name)) {
      if (old) remove({ path: p, kind: 'trash', reason: `unpurged delete ${old}` }, () => removeTree(p));
    } else if (LOCK_RE.test(name)) {
      // No age rule: a held flock is live whatever its age, and one nobody holds is garbage
      // at any age. Taken without waiting, and unlinked by gc as its holder (lock.ts).
      const device = LOCK_RE.exec(name)?.[1] as string;
      const item: GcItem = {
        path: p,
        kind: 'lock',
        device,
        reason: 'lock file nobody holds (its holder crashed)',
      };
      try {
        if (removeIdleLock(root, device, dryRun)) {
          if (!dryRun)
            ctx.emit({
              action: 'gc-removed',
              by: 'gc',
              reason: item.reason,
              device,
              extra: { kind: 'lock', path: p },
            });
          report.removed.push(item);
        }
      } catch (e) {
        report.kept.push({ ...item, reason: `not removed: ${isNvmfError(e) ? e.message : String(e)}` });
      }
    } else if (LEGACY_LOCK_RE.test(name)) {
      // Only a process of an earlier version, still running across an upgrade, can hold one.
      if (old) {
        remove({ path: p, kind: 'lock', reason: `lock directory of an earlier version ${old}` }, () =>
          st.isDirectory() ? fs.rmdirSync(p) : fs.unlinkSync(p),
        );
      }
    } else if (INTENT_RE.test(name)) {
      const rec = readIntent(p);
      const why = earlierBoot
        ? 'left from an earlier boot'
        : rec === null
          ? old && `malformed intent ${old}`
          : pidAlive(rec.pid)
            ? null
            : `connecting process ${rec.pid} is gone`;
      if (why) remove({ path: p, kind: 'intent', reason: why }, () => fs.unlinkSync(p));
    }
  }
  if (earlierBoot && thisBoot !== null && !dryRun) replaceFile(root, '.boot_id', thisBoot);
  return report;
}

interface EntryGcState {
  earlierBoot: boolean;
  ref: number | null;
  graceMs: number;
  now: number;
  isStale: ((device: string) => boolean) | undefined;
  dryRun: boolean;
  report: GcReport;
  remove: (item: GcItem, fn: () => void) => void;
}

function gcEntry(ctx: RegistryContext, device: string, dir: string, s: EntryGcState): void {
  const st = lstatOrNull(dir);
  if (st === null) return;
  if (!st.isDirectory()) {
    // Never followed, so unlinking it is safe; it can only be junk.
    s.remove(
      {
        path: dir,
        kind: 'entry',
        device,
        reason: st.isSymbolicLink() ? 'symlink planted as an entry' : 'not a directory',
      },
      () => fs.unlinkSync(dir),
    );
    return;
  }
  sweepAttrTemps(dir, device, s);
  const gone = s.earlierBoot || (s.isStale ? s.isStale(device) : !ctx.deviceNodeExists(device));
  if (!gone) return;
  const keep = (reason: string): void => {
    s.report.kept.push({ path: dir, kind: 'entry', device, reason });
  };
  try {
    withDeviceLock(
      ctx.root,
      device,
      () => {
        // Re-check under the lock: a writer may have replaced the entry since readdir.
        if (lstatOrNull(dir) === null) return;
        if (!s.earlierBoot && !(s.isStale ? s.isStale(device) : !ctx.deviceNodeExists(device))) return;
        let stamp: number | null;
        try {
          stamp = ctx.readEntryIn(dir, device).seqnum;
        } catch (e) {
          keep(`unreadable, kept to fail closed: ${isNvmfError(e) ? e.message : String(e)}`);
          return;
        }
        const reason = s.earlierBoot
          ? 'registry left from an earlier boot'
          : 'controller is gone (no device node)';
        if (!s.earlierBoot) {
          if (s.ref === null)
            return keep('controller looks gone, but the uevent seqnum is unreadable: kept to fail closed');
          if (stamp !== null && stamp >= s.ref)
            return keep(`stamp ${stamp} is not older than the removal reference ${s.ref}`);
        }
        s.remove({ path: dir, kind: 'entry', device, reason }, () => {
          const trash = path.join(ctx.root, `.${device}.trash.${uniqueSuffix()}`);
          fs.renameSync(dir, trash);
          // A writer that ignores our lock (libnvme) may have replaced the entry between our
          // read and the rename: if what we moved is not what we judged, put it back.
          const moved = safeRead(() => readAttrFile(path.join(trash, 'seqnum'), {}));
          const movedStamp = moved === null ? null : parseSeqnum(moved);
          if (!s.earlierBoot && movedStamp !== stamp && lstatOrNull(dir) === null) {
            fs.renameSync(trash, dir);
            throw Object.assign(new Error('entry replaced during gc; restored'), { code: 'EAGAIN' });
          }
          removeTree(trash);
        });
      },
      ctx.lockTimeoutMs,
    );
  } catch (e) {
    keep(`not removed: ${isNvmfError(e) ? e.message : String(e)}`);
  }
}

function sweepAttrTemps(dir: string, device: string, s: EntryGcState): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!isInternalName(name) || !name.includes('.tmp.')) continue;
    const p = path.join(dir, name);
    const st = lstatOrNull(p);
    if (st === null) continue;
    if (s.earlierBoot || s.now - st.mtimeMs > s.graceMs) {
      s.remove({ path: p, kind: 'attr-temp', device, reason: 'unfinished attribute write' }, () =>
        removeTree(p),
      );
    }
  }
}

function safeRead<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
