import fs from 'node:fs';
import path from 'node:path';
import { errnoOf, isNvmfError, NvmfError } from '../errors.js';
import {
  lstatOrNull,
  readAttrFile,
  removeQuietly,
  removeTree,
  replaceFile,
  requireDir,
  uniqueSuffix,
} from './fsx.js';
import { INTENT_RE, pidAlive, readIntent } from './intents.js';
import { removeIdleLock, withDeviceLock } from './lock.js';
import { isDevice, isInternalName, naturalCompare, parseSeqnum } from './names.js';
import type { Entry } from './entry.js';
import type { RegistryContext } from './registry.js';
import { verdictWords } from './verdict.js';

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
   * "The controller of this entry is gone." Default: it is not in sysfs (the host facts the
   * registry is handed), so a container without device nodes removes nothing live. The
   * seqnum guard applies on top, whatever this says.
   */
  isStale?: (device: string) => boolean;
}

/**
 * One thing gc would remove, with what it was judged from when planned: an entry's seqnum
 * stamp as read (null: it has none) and the uevent seqnum it was compared with, a leftover's
 * age, an intent's process.
 */
export interface GcPlanItem extends GcItem {
  readonly stamp?: number | null;
  readonly reference?: number;
  readonly ageMs?: number;
  readonly pid?: number;
  /** The entry belongs to a previous controller of a live instance (identity mismatch). */
  readonly previous?: boolean;
}

/**
 * What gc would do, read from the registry root once and removing nothing: a value, frozen,
 * which executeGc carries out without changing. `keep` holds the entries whose controller
 * looked gone but which are kept, and why.
 */
export interface GcPlan {
  readonly root: string;
  readonly graceMs: number;
  /** The boot id stamped in the root differs from this boot's: everything in it is stale. */
  readonly earlierBoot: boolean;
  readonly stampedBootId: string | null;
  readonly bootId: string | null;
  /** The uevent seqnum read before any entry was judged (null: unreadable; then only an earlier boot's entries go). */
  readonly reference: number | null;
  /** The guard-1 predicate the plan was made with (GcOptions.isStale), if any. */
  readonly isStale?: (device: string) => boolean;
  readonly remove: readonly GcPlanItem[];
  readonly keep: readonly GcItem[];
}

/** What an execution did: each planned item removed, or kept with the reason. */
export interface GcOutcome {
  removed: GcItem[];
  kept: GcItem[];
}

export const DEFAULT_GC_GRACE_MS = 60_000;

/**
 * Temp directories of an unfinished create: ours `.nvmeN.tmp.<suffix>` and `.intent.tmp.<suffix>`,
 * and libnvme's, which has the same shape (`.nvmeN.tmp.XXXXXX`, mkdtemp). Attribute temps
 * inside an entry (ours `.attr.tmp.<suffix>`, libnvme's `attr.tmp.XXXXXX`) are planAttrTemps'.
 */
const TEMP_RE = /^\.(nvme[0-9]+|intent)\.tmp\./;
/** Trash of an unpurged delete: ours `.nvmeN.trash.<suffix>`, libnvme's `.trash.XXXXXX` (mkdtemp). */
const TRASH_RE = /^\.(nvme[0-9]+\.)?trash\./;
/** Lock files: flock(2), never stale; removed only when nobody holds them (lock.ts). */
const LOCK_RE = /^\.(nvme[0-9]+)\.flock$/;
/** Lock directories of versions before the flock lock (mkdir protocol). */
const LEGACY_LOCK_RE = /^\.nvme[0-9]+\.lock$/;

/**
 * Read the registry root once and judge what to sweep; remove nothing. Entries: one whose
 * controller is gone (no device node, or `isStale`) and whose seqnum stamp is older than the
 * uevent seqnum read before any entry is judged; every entry after an earlier boot. Lock
 * files: those nobody holds now (probed without waiting). Other leftovers: after the grace
 * period, or after an earlier boot. The plan is frozen: executeGc carries it out unchanged.
 */
export function planGc(ctx: RegistryContext, opts: GcOptions): GcPlan {
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  const root = ctx.root;
  const remove: GcPlanItem[] = [];
  const keep: GcItem[] = [];
  const isStale = opts.isStale;
  const plan = (facts: Pick<GcPlan, 'earlierBoot' | 'stampedBootId' | 'bootId' | 'reference'>): GcPlan =>
    freezePlan({ root, graceMs, ...facts, ...(isStale ? { isStale } : {}), remove, keep });
  const rootSt = lstatOrNull(root);
  if (rootSt === null)
    return plan({ earlierBoot: false, stampedBootId: null, bootId: ctx.currentBootId(), reference: null });
  requireDir(rootSt, root, 'registry root');

  const now = ctx.now();
  const stampedBootId = safeRead(() => readAttrFile(path.join(root, '.boot_id'), {}));
  const bootId = ctx.currentBootId();
  const earlierBoot = stampedBootId !== null && bootId !== null && stampedBootId !== bootId;
  const reference = safeRead(() => ctx.readSeqnum());
  const s: PlanState = { earlierBoot, reference, graceMs, now, isStale, remove, keep };

  for (const name of fs.readdirSync(root).sort(naturalCompare)) {
    const p = path.join(root, name);
    if (isDevice(name)) {
      planEntry(ctx, name, p, s);
      continue;
    }
    const st = lstatOrNull(p);
    if (st === null) continue;
    const ageMs = now - st.mtimeMs;
    const old = earlierBoot
      ? 'left from an earlier boot'
      : ageMs > graceMs
        ? `older than ${graceMs} ms`
        : null;
    if (TEMP_RE.test(name)) {
      if (old) remove.push({ path: p, kind: 'temp', reason: `unfinished write ${old}`, ageMs });
    } else if (TRASH_RE.test(name)) {
      if (old) remove.push({ path: p, kind: 'trash', reason: `unpurged delete ${old}`, ageMs });
    } else if (LOCK_RE.test(name)) {
      // No age rule: a held flock is live whatever its age, and one nobody holds is garbage
      // at any age. Probed here without waiting; executeGc takes it again before the unlink.
      const device = LOCK_RE.exec(name)?.[1] as string;
      const item: GcItem = { path: p, kind: 'lock', device, reason: LOCK_REASON };
      try {
        if (removeIdleLock(root, device, true)) remove.push(item);
      } catch (e) {
        keep.push({ ...item, reason: `not removed: ${messageOf(e)}` });
      }
    } else if (LEGACY_LOCK_RE.test(name)) {
      // Only a process of an earlier version, still running across an upgrade, can hold one.
      if (old)
        remove.push({ path: p, kind: 'lock', reason: `lock directory of an earlier version ${old}`, ageMs });
    } else if (INTENT_RE.test(name)) {
      const rec = readIntent(p);
      const why = earlierBoot
        ? 'left from an earlier boot'
        : rec === null
          ? old && `malformed intent ${old}`
          : pidAlive(rec.pid)
            ? null
            : `connecting process ${rec.pid} is gone`;
      if (why)
        remove.push({
          path: p,
          kind: 'intent',
          reason: why,
          ...(rec === null ? { ageMs } : { pid: rec.pid }),
        });
    }
  }
  return plan({ earlierBoot, stampedBootId, bootId, reference });
}

const LOCK_REASON = 'lock file nobody holds (its holder crashed)';

interface PlanState {
  earlierBoot: boolean;
  reference: number | null;
  graceMs: number;
  now: number;
  isStale: ((device: string) => boolean) | undefined;
  remove: GcPlanItem[];
  keep: GcItem[];
}

/** The controller is not in sysfs (or `isStale` says so), or everything after an earlier boot. */
function looksGone(
  ctx: RegistryContext,
  device: string,
  earlierBoot: boolean,
  isStale: ((device: string) => boolean) | undefined,
): boolean {
  return earlierBoot || (isStale ? isStale(device) : ctx.liveController(device) === null);
}

function planEntry(ctx: RegistryContext, device: string, dir: string, s: PlanState): void {
  const st = lstatOrNull(dir);
  if (st === null) return;
  if (!st.isDirectory()) {
    // Never followed, so unlinking it is safe; it can only be junk. No stamp: not an entry.
    s.remove.push({
      path: dir,
      kind: 'entry',
      device,
      reason: st.isSymbolicLink() ? 'symlink planted as an entry' : 'not a directory',
    });
    return;
  }
  planAttrTemps(dir, device, s);
  if (!looksGone(ctx, device, s.earlierBoot, s.isStale)) {
    // A live instance: its entry goes only when it records another controller's identity
    // (the ownership verdict "previous"); an unreadable one is not gc's to judge.
    let entry: Entry;
    try {
      entry = ctx.readEntryIn(dir, device);
    } catch {
      return;
    }
    if (entry.verdict.kind === 'previous')
      s.remove.push({
        path: dir,
        kind: 'entry',
        device,
        reason: entry.verdict.reason,
        stamp: entry.seqnum,
        previous: true,
      });
    return;
  }
  const keep = (reason: string): void => {
    s.keep.push({ path: dir, kind: 'entry', device, reason });
  };
  let stamp: number | null;
  try {
    stamp = ctx.readEntryIn(dir, device).seqnum;
  } catch (e) {
    return keep(`unreadable, kept to fail closed: ${messageOf(e)}`);
  }
  if (s.earlierBoot) {
    s.remove.push({ path: dir, kind: 'entry', device, reason: 'registry left from an earlier boot', stamp });
    return;
  }
  if (s.reference === null)
    return keep('controller looks gone, but the uevent seqnum is unreadable: kept to fail closed');
  if (stamp !== null && stamp >= s.reference)
    return keep(`stamp ${stamp} is not older than the removal reference ${s.reference}`);
  s.remove.push({
    path: dir,
    kind: 'entry',
    device,
    reason: 'controller is gone (not in sysfs)',
    stamp,
    reference: s.reference,
  });
}

function planAttrTemps(dir: string, device: string, s: PlanState): void {
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
    const ageMs = s.now - st.mtimeMs;
    if (s.earlierBoot || ageMs > s.graceMs) {
      s.remove.push({ path: p, kind: 'attr-temp', device, reason: 'unfinished attribute write', ageMs });
    }
  }
}

/** What an execution reports: a planned item without what it was judged from, or with a new reason. */
function reported(item: GcItem, reason = item.reason): GcItem {
  return {
    path: item.path,
    kind: item.kind,
    reason,
    ...(item.device !== undefined ? { device: item.device } : {}),
  };
}

/**
 * Carry out a plan; the plan is not changed. Each item is re-checked where a writer may have
 * changed it since: an entry under its device lock (still there, its controller still gone,
 * its stamp still the one planned, hence still older than the reference; and after the
 * rename, that what was moved is what was judged), a lock file by taking it without waiting.
 * An item that changed is kept with the reason; one someone else removed meanwhile is in
 * neither list. Each removal is recorded once, as `gc-removed`. After an earlier boot the
 * root is restamped with this boot's id.
 */
export function executeGc(ctx: RegistryContext, plan: GcPlan): GcOutcome {
  if (plan.root !== ctx.root)
    throw new NvmfError('EINVALID_OPTION', `gc: the plan is of ${plan.root}, not of ${ctx.root}`, {});
  const out: GcOutcome = { removed: [], kept: [] };
  const r: Execution = {
    removed: (item) => {
      ctx.emit({
        action: 'gc-removed',
        by: 'gc',
        reason: item.reason,
        ...(item.device ? { device: item.device } : {}),
        extra: { kind: item.kind, path: item.path },
      });
      out.removed.push(reported(item));
    },
    keep: (item, reason) => {
      out.kept.push(reported(item, reason));
    },
    attempt: (item, fn) => {
      if (lstatOrNull(item.path) === null) return; // someone else swept it first
      try {
        fn();
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return;
        return r.keep(item, `${item.reason}; removal failed: ${errnoOf(e) ?? String(e)}`);
      }
      r.removed(item);
    },
  };
  for (const item of plan.remove) {
    if (item.kind === 'entry') executeEntry(ctx, plan, item, r);
    else if (item.kind === 'lock' && item.device !== undefined) executeLock(ctx, item, r);
    else if (item.kind === 'lock') {
      // an earlier version's lock directory (planned without a device)
      r.attempt(item, () =>
        fs.lstatSync(item.path).isDirectory() ? fs.rmdirSync(item.path) : fs.unlinkSync(item.path),
      );
    } else if (item.kind === 'intent') r.attempt(item, () => fs.unlinkSync(item.path));
    else r.attempt(item, () => removeTree(item.path));
  }
  if (plan.earlierBoot && plan.bootId !== null) replaceFile(ctx.root, '.boot_id', plan.bootId);
  return out;
}

interface Execution {
  /** The one place a removal is recorded and reported. */
  removed(item: GcItem): void;
  keep(item: GcItem, reason: string): void;
  /** Run a removal of what is still there, and report it. */
  attempt(item: GcItem, fn: () => void): void;
}

function executeLock(ctx: RegistryContext, item: GcPlanItem, r: Execution): void {
  if (lstatOrNull(item.path) === null) return;
  try {
    if (removeIdleLock(ctx.root, item.device as string)) r.removed(item);
    else if (lstatOrNull(item.path) !== null) r.keep(item, 'changed since planned: the lock is held now');
  } catch (e) {
    r.keep(item, `not removed: ${messageOf(e)}`);
  }
}

/**
 * Under the device lock no library writer can slip in; the stamp guard covers writers that
 * do not take our lock (libnvme): a controller created after the plan read the reference
 * emits its add uevent after it, so an entry it gets is stamped greater, which differs from
 * the planned stamp, and is kept.
 */
function executeEntry(ctx: RegistryContext, plan: GcPlan, item: GcPlanItem, r: Execution): void {
  const dir = item.path;
  const device = item.device as string;
  if (item.stamp === undefined) {
    // Planned as junk in an entry's place (no stamp): unlinked if it is still not a directory.
    const st = lstatOrNull(dir);
    if (st !== null && st.isDirectory()) return r.keep(item, 'changed since planned: an entry is there now');
    return r.attempt(item, () => fs.unlinkSync(dir));
  }
  try {
    withDeviceLock(
      ctx.root,
      device,
      () => {
        if (lstatOrNull(dir) === null) return;
        const previous = item.previous === true;
        if (!previous && !looksGone(ctx, device, plan.earlierBoot, plan.isStale))
          return r.keep(item, 'changed since planned: the controller is there again');
        let stamp: number | null;
        try {
          const entry = ctx.readEntryIn(dir, device);
          // A connect or claim that wrote this controller's entry meanwhile made it current.
          if (previous && entry.verdict.kind !== 'previous')
            return r.keep(item, `changed since planned: ${verdictWords(entry.verdict)} now`);
          stamp = entry.seqnum;
        } catch (e) {
          return r.keep(item, `unreadable, kept to fail closed: ${messageOf(e)}`);
        }
        if (stamp !== item.stamp)
          return r.keep(
            item,
            `changed since planned: stamp ${stamp ?? 'none'}, planned from ${item.stamp ?? 'none'}`,
          );
        const trash = path.join(ctx.root, `.${device}.trash.${uniqueSuffix()}`);
        try {
          fs.renameSync(dir, trash);
        } catch (e) {
          if (errnoOf(e) === 'ENOENT') return;
          return r.keep(item, `${item.reason}; removal failed: ${errnoOf(e) ?? String(e)}`);
        }
        // A writer that ignores our lock (libnvme) may have replaced the entry between our
        // read and the rename: if what we moved is not what we judged, put it back.
        const moved = safeRead(() => readAttrFile(path.join(trash, 'seqnum'), {}));
        const movedStamp = moved === null ? null : parseSeqnum(moved);
        const movedVerdict = previous ? safeRead(() => ctx.readEntryIn(trash, device).verdict.kind) : null;
        const changed = movedStamp !== stamp || (previous && movedVerdict !== 'previous');
        if (changed && lstatOrNull(dir) === null) {
          try {
            fs.renameSync(trash, dir);
          } catch (e) {
            return r.keep(item, `replaced during removal; restoring failed: ${errnoOf(e) ?? String(e)}`);
          }
          return r.keep(item, 'changed since planned: replaced during removal; restored');
        }
        removeQuietly(trash); // what is left is trash, swept by a later gc
        r.removed(item);
      },
      ctx.lockTimeoutMs,
    );
  } catch (e) {
    r.keep(item, `not removed: ${messageOf(e)}`);
  }
}

/**
 * Registry.gc: a dry run is the plan; otherwise the plan carried out. `kept` holds what the
 * plan kept, then what the execution kept.
 */
export function runGc(ctx: RegistryContext, opts: GcOptions): GcReport {
  const plan = planGc(ctx, opts);
  if (opts.dryRun === true)
    return {
      removed: plan.remove.map((i) => reported(i)),
      kept: plan.keep.map((i) => reported(i)),
      dryRun: true,
    };
  const out = executeGc(ctx, plan);
  return { removed: out.removed, kept: [...plan.keep.map((i) => reported(i)), ...out.kept], dryRun: false };
}

function freezePlan(plan: GcPlan): GcPlan {
  for (const item of plan.remove) Object.freeze(item);
  for (const item of plan.keep) Object.freeze(item);
  Object.freeze(plan.remove);
  Object.freeze(plan.keep);
  return Object.freeze(plan);
}

function messageOf(e: unknown): string {
  return isNvmfError(e) ? e.message : String(e);
}

function safeRead<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
