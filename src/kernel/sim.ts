import fs from 'node:fs';
import { checkOptionalBoolean, checkOptions, checkRecord, checkRoots, checkString } from '../args.js';
import { errnoOf, NvmfError } from '../errors.js';
import { DISCOVERY_NQN } from '../nvme/nqn.js';
import { parseSupportedOptions } from '../nvme/options.js';
import { ENV_KEYS, type Env, type Roots, rootsFromEnv } from '../roots.js';
import { describeTarget, kernelError } from './errno.js';
import type { ConnectReply, ControllerFilter, ControllerInfo, Kernel, LiveControllerFacts } from './port.js';
import { defaultConfig, readConfig, type SimConfig, scanDelayOf } from './sim/config.js';
import { simDiscoveryLog } from './sim/discovery.js';
import {
  clearFaults,
  listFaults,
  type SimFault,
  type SimFaultOp,
  setFault,
  takeFault,
} from './sim/faults.js';
import { type SimLayout, simLayout, simRoots, writeAtomic } from './sim/layout.js';
import { withDirLock } from './sim/lock.js';
import * as m from './sim/materialise.js';
import { optionTable, parseKernelOptions } from './sim/options.js';
import * as st from './sim/state.js';
import { defaultTrsvcid, loadTargets, type SimPort, type SimTargets, samePort } from './sim/targets.js';
import { drain, enqueue, pendingEvents, readUdevLog, type UdevLogRecord } from './sim/udev-queue.js';
import { type HostSnapshot, readHostSnapshot, readHostSnapshotOf } from './block.js';
import { readBootId } from './host-facts.js';
import { acpiTablesDir, type NbftTableRead, readNbftTables } from './nbft.js';
import * as sysfs from './sysfs.js';

export type { SimConfig } from './sim/config.js';
export { SIM_DELETE_ERRNOS, type SimFault, type SimFaultOp } from './sim/faults.js';
export { simLayout, simRoots } from './sim/layout.js';
export type { SimBlockUse, SimHolder, SimLink, SimMount, SimSwap } from './sim/state.js';
export type { SimPort, SimTargets } from './sim/targets.js';
export type { UdevLogRecord } from './sim/udev-queue.js';

/**
 * The simulated kernel. All state lives in one directory so separate processes share one
 * simulated host; sysfs and dev trees are materialised there in the real kernel's layout and
 * read with the same readers as the linux adapter. Mutations serialise on a mkdir lock, and
 * latencies are slept outside it so concurrent connects and deletes overlap as on a real host.
 */
const INITIAL_SEQNUM = 1000;

/**
 * State is split so a transaction writes only what it changed: `state.json` (subsystems,
 * target cntlids and a generation number) and one `sim/ctrl/<instance>.json` per controller.
 * A process keeps the whole state in memory and reloads the controllers only when another
 * process bumped the generation.
 */
let cache:
  | {
      file: string;
      gen: number;
      controllers: Record<string, st.SimController>;
      /** What this process last wrote to state.json, and that file's identity right after. */
      stored: StoredState;
      stamp: string | null;
    }
  | undefined;

/**
 * Identity of a state file: every write renames a new file in, so while the inode, size and
 * times are what they were after our own write, nobody else has written it, and the copy in
 * memory can stand in for parsing it again (which, with 1000 controllers, was most of a
 * delete's transaction).
 */
function fileStamp(p: string): string | null {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  return st === undefined ? null : `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

interface StoredState {
  gen?: number;
  subsystems: st.SimState['subsystems'];
  targetCntlids: st.SimState['targetCntlids'];
  downLinks?: st.SimLink[];
  blockUse?: st.SimBlockUse;
}

function ctrlDirOf(l: SimLayout): string {
  return `${l.meta}/ctrl`;
}

function readState(l: SimLayout): st.SimState & { gen: number } {
  let stored: StoredState;
  const stamp = cache && cache.file === l.state ? fileStamp(l.state) : null;
  if (cache && stamp !== null && cache.stamp === stamp) {
    stored = cache.stored;
  } else {
    try {
      stored = JSON.parse(fs.readFileSync(l.state, 'utf8')) as StoredState;
    } catch {
      stored = { subsystems: {}, targetCntlids: {} };
    }
  }
  const gen = stored.gen ?? 0;
  let controllers: Record<string, st.SimController>;
  if (cache && cache.file === l.state && cache.gen === gen) {
    controllers = cache.controllers;
  } else {
    controllers = {};
    let names: string[];
    try {
      names = fs.readdirSync(ctrlDirOf(l));
    } catch {
      names = [];
    }
    for (const n of names) {
      const mm = /^(\d+)\.json$/.exec(n);
      if (!mm) continue;
      try {
        controllers[mm[1] as string] = JSON.parse(
          fs.readFileSync(`${ctrlDirOf(l)}/${n}`, 'utf8'),
        ) as st.SimController;
      } catch {
        // a torn-down controller's file removed under us cannot happen under the lock; skip junk
      }
    }
  }
  return {
    version: 1,
    gen,
    controllers,
    subsystems: stored.subsystems ?? {},
    targetCntlids: stored.targetCntlids ?? {},
    downLinks: stored.downLinks ?? [],
    blockUse: stored.blockUse ?? (stored.blockUse = st.emptyBlockUse()),
  };
}

function writeState(l: SimLayout, s: st.SimState & { gen: number }, dirty: Set<number>): void {
  // The objects in memory may already be ahead of the disk: trust them again only once written.
  cache = undefined;
  fs.mkdirSync(ctrlDirOf(l), { recursive: true });
  for (const inst of dirty) {
    const c = s.controllers[String(inst)];
    const f = `${ctrlDirOf(l)}/${inst}.json`;
    if (c) writeAtomic(f, JSON.stringify(c));
    else fs.rmSync(f, { force: true });
  }
  const gen = s.gen + 1;
  const stored: StoredState = {
    gen,
    subsystems: s.subsystems,
    targetCntlids: s.targetCntlids,
    ...(s.downLinks.length > 0 ? { downLinks: s.downLinks } : {}),
    blockUse: s.blockUse,
  };
  writeAtomic(l.state, JSON.stringify(stored));
  cache = { file: l.state, gen, controllers: s.controllers, stored, stamp: fileStamp(l.state) };
}

/** Marker of a controller being deleted: created with O_EXCL, so the first deleter wins without the state lock. */
function deletingMarker(l: SimLayout, inst: number): string {
  return `${l.meta}/deleting.nvme${inst}`;
}

/**
 * A test's pause point: while this file exists, a delete_controller write that has put
 * controller `inst` into DELETING does not go on. Tests force interleavings with it.
 */
function deleteHold(l: SimLayout, inst: number): string {
  return `${l.meta}/hold.delete.nvme${inst}`;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

type TxFn = (s: st.SimState, events: st.SimUevent[], dirty: Set<number>) => unknown;
interface PendingTx {
  fn: TxFn;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Transactions of this process waiting for the lock, per sim; they commit together. */
const pendingTx = new Map<string, PendingTx[]>();

/**
 * One locked transaction: state in, events out (seqnums assigned and queued in order).
 *
 * Group commit: transactions this process issues while an earlier one waits for the lock
 * join it, and the group runs under one lock hold with one state read and one state write,
 * each transaction seeing the state its predecessors left, exactly as if they had run one
 * after the other with no other process in between (a schedule the lock allowed anyway).
 * Sixteen concurrent deletes thus cost one state round trip instead of sixteen.
 */
function transact<T>(
  l: SimLayout,
  fn: (s: st.SimState, events: st.SimUevent[], dirty: Set<number>) => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const op: PendingTx = { fn, resolve: resolve as (v: unknown) => void, reject };
    const queued = pendingTx.get(l.lock);
    if (queued !== undefined) {
      queued.push(op);
      return;
    }
    const group = [op];
    pendingTx.set(l.lock, group);
    withDirLock(l.lock, () => {
      // Arrivals from now on start the next group.
      if (pendingTx.get(l.lock) === group) pendingTx.delete(l.lock);
      return commitGroup(l, group);
    }).then(
      (settle) => settle(),
      (e) => {
        if (pendingTx.get(l.lock) === group) pendingTx.delete(l.lock);
        for (const o of group) o.reject(e);
      },
    );
  });
}

/** Run a group under the lock; returns how to settle its callers once the lock is released. */
function commitGroup(l: SimLayout, group: PendingTx[]): () => void {
  const s = readState(l);
  const events: st.SimUevent[] = [];
  const dirty = new Set<number>();
  // Scans and recovery steps that came due ran in the kernel before anything this group does.
  const now = Date.now();
  runScans(l, s, events, dirty, now);
  runRecoveries(l, s, events, dirty, now);
  const outcomes = group.map((o) => {
    try {
      return { ok: true as const, value: o.fn(s, events, dirty) };
    } catch (e) {
      return { ok: false as const, error: e };
    }
  });
  writeState(l, s, dirty);
  if (events.length > 0) {
    const base = sysfs.readUeventSeqnum(l.sys);
    const queuedAt = Date.now();
    for (const [i, ev] of events.entries()) enqueue(l, base + i + 1, ev, queuedAt);
    writeAtomic(l.seqnum, `${base + events.length}\n`);
  }
  return () => {
    outcomes.forEach((r, i) => {
      const o = group[i] as PendingTx;
      if (r.ok) o.resolve(r.value);
      else o.reject(r.error);
    });
  };
}

function ctrlOf(s: st.SimState, inst: number): st.SimController | undefined {
  return s.controllers[String(inst)];
}

function scanMarker(l: SimLayout, inst: number): string {
  return `${l.scans}/${inst}`;
}

function writeScanMarker(l: SimLayout, inst: number, dueAt: number): void {
  try {
    fs.writeFileSync(scanMarker(l, inst), String(dueAt));
  } catch {
    // a host initialised before scans were modelled has no directory yet
    fs.mkdirSync(l.scans, { recursive: true });
    fs.writeFileSync(scanMarker(l, inst), String(dueAt));
  }
}

/** Queued scans due by `now` (all of them when `now` is Infinity), oldest first. */
function runScans(
  l: SimLayout,
  s: st.SimState,
  events: st.SimUevent[],
  dirty: Set<number>,
  now: number,
): void {
  const due: st.SimController[] = [];
  for (const c of Object.values(s.controllers)) {
    if (c.scan !== undefined && c.scan.dueAt <= now) due.push(c);
  }
  if (due.length === 0) return;
  due.sort((a, b) => (a.scan?.dueAt ?? 0) - (b.scan?.dueAt ?? 0) || a.instance - b.instance);
  for (const c of due) runScan(l, s, c, events, dirty);
}

/**
 * The namespace scan (scan_work): attaches namespaces 1..n through controller `c`, each with
 * the lowest free block minors (hidden path disk first, then the head, as device_add_disk
 * allocates them) and 6.1's events (a head announces itself once, through its first path).
 */
function runScan(
  l: SimLayout,
  s: st.SimState,
  c: st.SimController,
  events: st.SimUevent[],
  dirty: Set<number>,
): void {
  const scan = c.scan;
  if (scan === undefined) return;
  delete c.scan;
  dirty.add(c.instance);
  fs.rmSync(scanMarker(l, c.instance), { force: true });
  const sub = c.subsys !== null ? s.subsystems[c.subsys] : undefined;
  if (!sub) return;
  const minors = st.usedMinors(s);
  for (let h = 1; h <= scan.namespaces; h++) {
    if (c.heads.includes(h)) continue;
    const newHead =
      !scan.multipath || !sub.controllers.some((o) => o !== c.instance && ctrlOf(s, o)?.heads.includes(h));
    const minor = st.lowestFree(minors);
    minors.add(minor);
    c.minors = { ...c.minors, [h]: minor };
    let headMinor: number | undefined;
    if (scan.multipath && newHead) {
      headMinor = st.lowestFree(minors);
      minors.add(headMinor);
      sub.headMinors = { ...sub.headMinors, [h]: headMinor };
    }
    // The usable disk's partition scan (a head's, or the disk's without multipath).
    const partMinors: number[] = [];
    if (!scan.multipath || newHead) {
      for (let i = 0; i < (scan.partitions ?? 0); i++) {
        const pm = st.lowestFree(minors);
        minors.add(pm);
        partMinors.push(pm);
      }
      if (partMinors.length > 0) {
        if (scan.multipath) sub.partMinors = { ...sub.partMinors, [h]: partMinors };
        else c.partMinors = { ...c.partMinors, [h]: partMinors };
      }
    }
    m.attachNamespace(l, c.instance, sub.instance, h, {
      multipath: scan.multipath,
      minor,
      partMinors,
      ...(headMinor !== undefined ? { headMinor } : {}),
    });
    events.push(
      ...st.nsAttachEvents(
        c.instance,
        sub.instance,
        h,
        newHead,
        scan.multipath,
        headMinor ?? minor,
        partMinors.length,
      ),
    );
    c.heads.push(h);
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function recoveryMarker(l: SimLayout, inst: number): string {
  return `${l.recovery}/${inst}`;
}

function setRecovery(
  l: SimLayout,
  c: st.SimController,
  r: { dueAt: number; attempts: number } | undefined,
): void {
  if (r === undefined) {
    delete c.recovery;
    fs.rmSync(recoveryMarker(l, c.instance), { force: true });
    return;
  }
  c.recovery = r;
  fs.mkdirSync(l.recovery, { recursive: true });
  fs.writeFileSync(recoveryMarker(l, c.instance), String(r.dueAt));
}

/** Earliest due step of any controller being recovered, from the markers (no state read); null if none. */
function nextRecoveryDue(l: SimLayout): number | null {
  let names: string[];
  try {
    names = fs.readdirSync(l.recovery);
  } catch {
    return null;
  }
  let next: number | null = null;
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    let due: number;
    try {
      due = Number(fs.readFileSync(`${l.recovery}/${n}`, 'utf8'));
    } catch {
      continue; // finished meanwhile
    }
    if (Number.isFinite(due) && (next === null || due < next)) next = due;
  }
  return next;
}

function portOf(c: Pick<st.SimController, 'transport' | 'traddr' | 'trsvcid'>): SimPort {
  return {
    transport: c.transport,
    ...(c.traddr ? { traddr: c.traddr } : {}),
    ...(c.trsvcid ? { trsvcid: c.trsvcid } : {}),
  };
}

function linkDown(s: st.SimState, nqn: string, p: SimPort): boolean {
  return s.downLinks.some((d) => d.nqn === nqn && samePort(d, p));
}

/** The target subsystem `c` reaches through its port, if that link is up and lets its host in; else null. */
function servedSubsystem(
  t: SimTargets,
  s: st.SimState,
  c: Pick<st.SimController, 'transport' | 'traddr' | 'trsvcid' | 'subsysnqn' | 'hostnqn'>,
): SimTargets['subsystems'][number] | null {
  const p = portOf(c);
  if (linkDown(s, c.subsysnqn, p)) return null;
  const sub = t.subsystems.find((x) => x.nqn === c.subsysnqn && x.ports.some((q) => samePort(q, p)));
  if (!sub || (sub.allowedHosts !== undefined && !sub.allowedHosts.includes(c.hostnqn))) return null;
  return sub;
}

/** Recovery steps due by `now`, oldest first (the kernel's error recovery and reconnect work). */
function runRecoveries(
  l: SimLayout,
  s: st.SimState,
  events: st.SimUevent[],
  dirty: Set<number>,
  now: number,
): void {
  const due = Object.values(s.controllers).filter((c) => c.recovery !== undefined && c.recovery.dueAt <= now);
  if (due.length === 0) return;
  due.sort((a, b) => (a.recovery?.dueAt ?? 0) - (b.recovery?.dueAt ?? 0) || a.instance - b.instance);
  const cfg = readConfig(l);
  for (const c of due) recover(l, cfg, s, c, events, dirty, now);
}

/**
 * Run `c`'s recovery steps that came due by `now`, each at its own due time (a host nobody
 * looked at meanwhile catches up): error recovery ends in `connecting`; then every
 * reconnect_delay one attempt, which succeeds once the target serves the subsystem on the
 * port again, else counts; after max_reconnects failed attempts (ctrl_loss_tmo) the kernel
 * removes the controller itself (nvme_tcp_reconnect_or_remove). Any step that came due
 * before a link changed ran before the change, as transactions run due steps first.
 */
function recover(
  l: SimLayout,
  cfg: SimConfig,
  s: st.SimState,
  c: st.SimController,
  events: st.SimUevent[],
  dirty: Set<number>,
  now: number,
): void {
  dirty.add(c.instance);
  while (c.recovery !== undefined && c.recovery.dueAt <= now) {
    const r = c.recovery;
    if (c.state === 'deleting') {
      setRecovery(l, c, undefined); // a delete cancels the reconnect work
      return;
    }
    if (c.state === 'connecting') {
      r.attempts += 1;
      const sub = servedSubsystem(cfg.targets, s, c);
      if (sub !== null) {
        reconnected(l, cfg, s, c, events);
        return;
      }
    }
    c.state = 'connecting';
    const max = st.maxReconnects(c);
    if (max >= 0 && r.attempts >= max) {
      // "Removing controller...": the kernel shows "deleting (no IO)" for a moment (measured
      // ~170 ms), then tears down as a delete does; the sim removes it at once.
      setRecovery(l, c, undefined);
      removeController(l, cfg, s, c.instance, events, dirty);
      return;
    }
    setRecovery(l, c, {
      dueAt: r.dueAt + (c.reconnectDelay ?? st.DEFAULT_RECONNECT_DELAY) * 1000,
      attempts: r.attempts,
    });
    m.updateControllerLink(l, c);
  }
}

/**
 * A reconnect attempt that found the target: the same controller (instance, node, namespaces,
 * subsystem) goes `live` again with the cntlid the target hands out now (lowest free), and
 * announces it as measured on 6.1.
 */
function reconnected(
  l: SimLayout,
  cfg: SimConfig,
  s: st.SimState,
  c: st.SimController,
  events: st.SimUevent[],
): void {
  const tkey = targetKey(c);
  const used = s.targetCntlids[tkey] ?? [];
  c.cntlid = st.lowestFreeFrom1(used);
  s.targetCntlids[tkey] = [...used, c.cntlid];
  c.state = 'live';
  setRecovery(l, c, undefined);
  m.updateControllerLink(l, c);
  const sub = c.subsys !== null ? s.subsystems[c.subsys] : undefined;
  events.push(...st.reconnectedEvents(c.instance, sub?.instance ?? c.instance, c.heads, cfg.multipath));
}

/**
 * The target stops serving `links` (nvmet: the port's subsystem link removed): it deletes its
 * controllers there, so each live host controller on such a link loses its path and enters
 * error recovery (`resetting`, due at once). No uevent (measured).
 */
function takeLinksDown(
  l: SimLayout,
  s: st.SimState,
  links: readonly st.SimLink[],
  dirty: Set<number>,
  now: number,
): void {
  for (const k of links) if (!linkDown(s, k.nqn, k)) s.downLinks.push(k);
  for (const c of Object.values(s.controllers)) {
    if (c.discovery || c.state !== 'live' || !linkDown(s, c.subsysnqn, portOf(c))) continue;
    const tkey = targetKey(c);
    s.targetCntlids[tkey] = (s.targetCntlids[tkey] ?? []).filter((x) => x !== c.cntlid);
    c.state = 'resetting';
    setRecovery(l, c, { dueAt: now, attempts: 0 });
    dirty.add(c.instance);
    m.updateControllerLink(l, c);
  }
}

/** Tear a controller down as the kernel does: namespaces, node, sysfs, then the subsystem. */
function removeController(
  l: SimLayout,
  cfg: SimConfig,
  s: st.SimState,
  inst: number,
  events: st.SimUevent[],
  dirty: Set<number>,
): void {
  const c = ctrlOf(s, inst);
  if (!c) return;
  dirty.add(inst);
  // nvme_remove_namespaces flushes a queued scan first: a delete right after the connect
  // reply carries the scan's events too (measured +9 instead of +6).
  runScan(l, s, c, events, dirty);
  const sub = c.subsys !== null ? s.subsystems[c.subsys] : undefined;
  if (sub) {
    for (const h of c.heads) {
      const others = sub.controllers.some((o) => o !== inst && ctrlOf(s, o)?.heads.includes(h));
      const headMinor = sub.headMinors?.[String(h)];
      const minor = (cfg.multipath ? headMinor : c.minors?.[String(h)]) ?? 0;
      const parts = (cfg.multipath ? sub.partMinors : c.partMinors)?.[String(h)]?.length ?? 0;
      const removed = m.detachNamespace(l, inst, sub.instance, h, !others, cfg.multipath);
      events.push(...st.nsDetachEvents(inst, sub.instance, h, !others, cfg.multipath, minor, parts));
      if (!others && sub.headMinors) delete sub.headMinors[String(h)];
      if (!others && sub.partMinors) delete sub.partMinors[String(h)];
      dropHeld(l, s, removed);
    }
  }
  m.removeControllerNode(l, inst);
  m.removeControllerSysfs(l, inst);
  fs.rmSync(deletingMarker(l, inst), { force: true });
  if (c.recovery !== undefined) setRecovery(l, c, undefined);
  if (c.hwmon !== undefined) events.push(st.hwmonEvent('remove', inst, c.hwmon));
  events.push(st.ctrlRemoveEvent(inst));
  delete s.controllers[String(inst)];
  const tkey = targetKey(c);
  s.targetCntlids[tkey] = (s.targetCntlids[tkey] ?? []).filter((x) => x !== c.cntlid);
  if (sub && c.subsys !== null) {
    m.linkSubsystemController(l, sub.instance, inst, false);
    sub.controllers = sub.controllers.filter((x) => x !== inst);
    if (sub.controllers.length === 0) {
      m.removeSubsystem(l, sub.instance);
      events.push(st.subsysEvent('remove', sub.instance));
      delete s.subsystems[c.subsys];
    }
  }
}

/**
 * Block devices that went away (a deleted namespace disk and its partitions) are no longer a
 * holder's slaves. The holders themselves stay, as device-mapper and md devices do when a
 * device under them disappears, and so do mounts and swap on anything: Linux deletes a
 * controller whatever its disks serve (the filesystem then sees I/O errors).
 */
function dropHeld(l: SimLayout, s: st.SimState, removed: readonly string[]): void {
  if (removed.length === 0) return;
  for (const [name, h] of Object.entries(s.blockUse.holders)) {
    const gone = h.slaves.filter((x) => removed.includes(x));
    if (gone.length === 0) continue;
    for (const x of gone) m.unlinkHolder(l, name, x);
    h.slaves = h.slaves.filter((x) => !removed.includes(x));
  }
}

function targetKey(c: Pick<st.SimController, 'discovery' | 'subsysnqn'>): string {
  return c.discovery ? 'discovery' : c.subsysnqn;
}

/** Something answers on port `p`: a subsystem linked to it (nvmet disables a port with none), or a discovery service. */
function listening(t: SimTargets, s: st.SimState, p: SimPort): boolean {
  return (
    t.subsystems.some((x) => x.ports.some((q) => samePort(q, p)) && !linkDown(s, x.nqn, p)) ||
    t.discovery.some((d) => samePort(d, p))
  );
}

export interface SimKernelOptions {
  dir: string;
  /** Roots handed to the udev helper (registry, dev); default the sim's own. */
  roots?: Roots;
}

export class SimKernel implements Kernel {
  readonly kind = 'sim' as const;
  readonly layout: SimLayout;
  readonly roots: Roots;
  private drainTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: { timer: NodeJS.Timeout; dueAt: number } | undefined;

  constructor(o: SimKernelOptions) {
    const r = checkRecord(o, 'SimKernel', ['dir', 'roots']);
    const dir = checkString(r.dir, 'SimKernel', 'dir');
    this.layout = simLayout(dir);
    this.roots =
      r.roots === undefined ? simRoots(dir) : { ...simRoots(dir), ...checkRoots(r.roots, 'SimKernel') };
    readConfig(this.layout); // fail early on a directory that is not a sim
    if (pendingEvents(this.layout).length > 0) this.scheduleDrain();
    this.armRecovery();
  }

  async connect(options: string): Promise<ConnectReply> {
    checkString(options, 'connect', 'the option string');
    const l = this.layout;
    const cfg = readConfig(l);
    const what = `connect ${describeTarget(options)}`;
    const p = parseKernelOptions(options, optionTable(cfg.fabricsOptions));
    if ('invalid' in p) throw kernelError('connect', 'EINVAL', what, { reason: p.invalid });
    if (!cfg.transports.includes(p.transport)) {
      throw kernelError('connect', 'EINVAL', what, { reason: `transport ${p.transport} not loaded` });
    }
    if ((p.transport === 'tcp' || p.transport === 'rdma' || p.transport === 'fc') && p.traddr === undefined) {
      throw kernelError('connect', 'EINVAL', what, { reason: 'traddr missing' });
    }
    if (p.transport === 'fc' && p.host_traddr === undefined) {
      throw kernelError('connect', 'EINVAL', what, { reason: 'host_traddr missing' });
    }
    const trsvcid = p.trsvcid ?? defaultTrsvcid(p.transport);
    const base: st.SimController = {
      instance: -1,
      transport: p.transport,
      ...(p.transport !== 'loop' && p.traddr !== undefined ? { traddr: p.traddr } : {}),
      ...(p.transport !== 'loop' && trsvcid !== undefined ? { trsvcid } : {}),
      ...(p.host_traddr !== undefined ? { host_traddr: p.host_traddr } : {}),
      ...(p.host_iface !== undefined ? { host_iface: p.host_iface } : {}),
      subsysnqn: p.nqn,
      hostnqn: p.hostnqn ?? cfg.hostnqn,
      hostid: p.hostid ?? cfg.hostid,
      cntlid: 0,
      subsys: null,
      discovery: p.nqn === DISCOVERY_NQN,
      state: 'connecting',
      heads: [],
      ...(p.ctrl_loss_tmo !== undefined ? { ctrlLossTmo: p.ctrl_loss_tmo } : {}),
      ...(p.reconnect_delay !== undefined ? { reconnectDelay: p.reconnect_delay } : {}),
    };
    // Phase 1: the controller exists (sysfs, node, add event) before the fabric answers.
    const instance = await transact(l, (s, events, dirty) => {
      if (!p.duplicate_connect && st.findDuplicate(s, base)) {
        throw kernelError('connect', 'EALREADY', what);
      }
      const inst = st.lowestFree(st.usedInstances(s));
      const c = { ...base, instance: inst };
      s.controllers[String(inst)] = c;
      dirty.add(inst);
      m.writeController(l, c);
      events.push(st.ctrlAddEvent(inst));
      return inst;
    });
    this.scheduleDrain();
    await sleep(cfg.latency.connectMs);
    // Phase 2: the fabrics connect either fails (the controller is torn down again) or
    // the controller joins its subsystem, goes live and its namespaces appear.
    const reply = await transact(l, (s, events, dirty) => {
      dirty.add(instance);
      const c = ctrlOf(s, instance);
      if (!c || c.state === 'deleting' || fs.existsSync(deletingMarker(l, instance))) {
        throw kernelError('connect', 'ECANCELED', what);
      }
      const t = cfg.targets;
      let errno: string | null = null;
      let namespaces = 0;
      let partitions = 0;
      if (!listening(t, s, portOf(c))) errno = 'ECONNREFUSED';
      else if (!c.discovery) {
        const sub = servedSubsystem(t, s, c);
        if (sub === null) errno = 'EIO';
        else {
          namespaces = sub.namespaces;
          partitions = sub.partitions ?? 0;
        }
      }
      if (errno !== null) {
        removeController(l, cfg, s, instance, events, dirty);
        return { errno };
      }
      const tkey = targetKey(c);
      const used = s.targetCntlids[tkey] ?? [];
      c.cntlid = st.lowestFreeFrom1(used);
      s.targetCntlids[tkey] = [...used, c.cntlid];
      // Discovery controllers never share a subsystem (the kernel keys them apart).
      const skey = c.discovery ? `discovery:${instance}` : c.subsysnqn;
      let sub = s.subsystems[skey];
      if (!sub) {
        sub = { instance, nqn: c.subsysnqn, discovery: c.discovery, controllers: [] };
        s.subsystems[skey] = sub;
        m.writeSubsystem(l, sub.instance, sub.nqn, sub.discovery);
        events.push(st.subsysEvent('add', sub.instance));
      }
      sub.controllers.push(instance);
      c.subsys = skey;
      m.linkSubsystemController(l, sub.instance, instance, true);
      if (!c.discovery) {
        c.hwmon = st.lowestFree(st.usedHwmons(s));
        events.push(st.hwmonEvent('add', instance, c.hwmon));
      }
      // nvme_start_ctrl queues the scan and announces the controller; the reply comes back
      // before the scan has run.
      let scanDueAt: number | null = null;
      if (namespaces > 0) {
        scanDueAt = Date.now() + scanDelayOf(cfg);
        c.scan = {
          dueAt: scanDueAt,
          namespaces,
          multipath: cfg.multipath,
          ...(partitions > 0 ? { partitions } : {}),
        };
        writeScanMarker(l, instance, scanDueAt);
      }
      c.state = 'live';
      m.writeController(l, c);
      events.push(st.connectedEvent(instance));
      return { reply: { instance, cntlid: c.cntlid }, scanDueAt };
    });
    this.scheduleDrain();
    if ('errno' in reply) throw kernelError('connect', reply.errno, what);
    if (reply.scanDueAt !== null) this.scheduleScan(instance, reply.scanDueAt);
    return reply.reply;
  }

  /**
   * Run the scan of `inst` once due, in this process while it lives. Unreferenced: a process
   * that exits first leaves it to the next sim operation, namespace query or settle (any of
   * them runs due scans before anything else), as the kernel would have run it meanwhile.
   */
  private scheduleScan(inst: number, dueAt: number): void {
    const t = setTimeout(
      () => {
        this.runDueScanOf(inst).catch(() => undefined);
      },
      Math.max(0, dueAt - Date.now()),
    );
    t.unref();
  }

  /** If `inst` has a scan that is due, run the due scans (one transaction); else nothing. */
  private async runDueScanOf(inst: number): Promise<void> {
    const marker = scanMarker(this.layout, inst);
    if (!fs.existsSync(marker)) return;
    let due: number;
    try {
      due = Number(fs.readFileSync(marker, 'utf8'));
    } catch {
      return; // ran meanwhile
    }
    if (due > Date.now()) return;
    await transact(this.layout, () => undefined);
    this.scheduleDrain();
  }

  async supportedOptions(): Promise<readonly string[] | null> {
    try {
      const names = parseSupportedOptions(
        await fs.promises.readFile(`${this.layout.dev}/nvme-fabrics`, 'latin1'),
      );
      return names.length > 0 ? names : null;
    } catch {
      return null;
    }
  }

  /** As sysfs shows them, after the recovery steps that came due (a reconnect, a removal). */
  async listControllers(only?: ControllerFilter): Promise<ControllerInfo[]> {
    await this.runDueRecoveries();
    return sysfs.listControllers(this.layout.sys, only);
  }

  async controller(device: string): Promise<ControllerInfo | null> {
    await this.runDueRecoveries();
    return sysfs.readController(this.layout.sys, device);
  }

  /**
   * Run the recovery steps of path-lost controllers that are due (one transaction), then keep
   * a timer for the next one. Like a scan, a step that came due while no process of this
   * host was looking runs first thing in the next transaction or query of any process.
   */
  async runDueRecoveries(): Promise<void> {
    const due = nextRecoveryDue(this.layout);
    if (due !== null && due <= Date.now()) {
      await transact(this.layout, () => undefined);
      this.scheduleDrain();
    }
    this.armRecovery();
  }

  /** A timer (not keeping the process alive) for the earliest pending recovery step. */
  private armRecovery(): void {
    const due = nextRecoveryDue(this.layout);
    if (due === null) return;
    if (this.recoveryTimer !== undefined) {
      if (this.recoveryTimer.dueAt <= due) return;
      clearTimeout(this.recoveryTimer.timer);
    }
    const timer = setTimeout(
      () => {
        this.recoveryTimer = undefined;
        this.runDueRecoveries().catch(() => this.armRecovery());
      },
      Math.max(0, due - Date.now()),
    );
    timer.unref();
    this.recoveryTimer = { timer, dueAt: due };
  }

  /**
   * The target stops serving `nqn` on `port` (every port it is configured on when omitted), as
   * removing nvmet's ports/N/subsystems/NQN link does. Live controllers there lose their path;
   * when this returns they are `connecting` (error recovery done), as measured after the unlink.
   * New connects to it fail with EIO (ECONNREFUSED once no subsystem is left on the port).
   */
  async targetDown(nqn: string, port?: SimPort): Promise<st.SimLink[]> {
    const links = linksOf(readConfig(this.layout).targets, nqn, port);
    const down = await transact(this.layout, (s, _events, dirty) => {
      takeLinksDown(this.layout, s, links, dirty, Date.now());
      return [...s.downLinks];
    });
    await this.runDueRecoveries();
    return down;
  }

  /** Serve `nqn` on `port` (all its ports when omitted) again; recovering controllers reconnect at their next attempt. */
  async targetUp(nqn: string, port?: SimPort): Promise<st.SimLink[]> {
    const links = linksOf(readConfig(this.layout).targets, nqn, port);
    const down = await transact(this.layout, (s) => {
      s.downLinks = s.downLinks.filter((d) => !links.some((k) => k.nqn === d.nqn && samePort(k, d)));
      return [...s.downLinks];
    });
    this.armRecovery();
    return down;
  }

  deviceNodeExists(device: string): boolean {
    return sysfs.deviceNodeExists(this.layout.dev, device);
  }

  liveController(device: string): LiveControllerFacts | null {
    return sysfs.readLiveController(this.layout.sys, device);
  }

  ueventSeqnum(): number {
    return sysfs.readUeventSeqnum(this.layout.sys);
  }

  /** The real host's boot id: a simulated host boots with the machine it runs on. */
  bootId(): string | null {
    return readBootId();
  }

  /** As sysfs shows them: empty until the controller's scan ran (a due one runs first). */
  async namespaces(device: string): Promise<string[]> {
    await this.runDueScanOf(sysfs.assertDevice(device));
    return sysfs.namespaces(this.layout.sys, device);
  }

  blockDeviceExists(name: string): boolean {
    return sysfs.blockDeviceExists(this.layout.dev, name);
  }

  /**
   * The host as sysfs and procfs show it, after the scans and recovery steps that came due.
   * The roots are the sim's own: DIR/sys, DIR/dev, DIR/proc (NVMF_PROC_ROOT moves the last).
   */
  async hostSnapshot(devices?: readonly string[]): Promise<HostSnapshot> {
    await this.runDueRecoveries();
    // A scan that came due has run in the kernel by now (any transaction runs due scans first).
    let markers: string[] = [];
    try {
      markers = fs.readdirSync(this.layout.scans);
    } catch {
      // no scans directory: none queued
    }
    const now = Date.now();
    if (markers.some((n) => Number(readOr(scanMarker(this.layout, Number(n)), 'Infinity')) <= now)) {
      await transact(this.layout, () => undefined);
      this.scheduleDrain();
    }
    const roots = { sysfs: this.layout.sys, dev: this.layout.dev, proc: this.roots.proc };
    if (devices === undefined) return readHostSnapshot(roots);
    for (const d of devices) sysfs.assertDevice(d);
    return readHostSnapshotOf(roots, devices);
  }

  async deleteController(device: string): Promise<void> {
    const inst = sysfs.assertDevice(device);
    const l = this.layout;
    const cfg = readConfig(l);
    const marker = deletingMarker(l, inst);
    const gone = () =>
      new NvmfError('ENO_CONTROLLER', `controller ${device} does not exist (already removed?)`, { device });
    // Open the attribute for writing as the kernel's caller does: sysfs makes it 0200 root, so
    // an unprivileged caller fails here with EACCES, and a vanished controller with ENOENT.
    try {
      fs.closeSync(fs.openSync(`${l.sys}/class/nvme/${device}/delete_controller`, fs.constants.O_WRONLY));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw gone();
      throw kernelError('delete', e, `disconnect ${device}`, { device });
    }
    // An injected failure (nvmf sim fail) leaves the controller as it is, like a refused write.
    const injected = await takeFault(l, device, 'delete');
    if (injected !== null) throw kernelError('delete', injected, `disconnect ${device}`, { device });
    try {
      fs.writeFileSync(marker, String(process.pid), { flag: 'wx' });
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw kernelError('delete', e, `disconnect ${device}`, { device });
      // A concurrent delete_controller write waits for the winner's removal (kernfs self-removal).
      while (fs.existsSync(marker)) await sleep(2);
      return;
    }
    // From here the controller is DELETING: a new connect to its target no longer matches it
    // (nvmf_ctlr_matches_baseopts skips DELETING, DELETING_NOIO and DEAD controllers).
    const present = await transact(l, (s, _events, dirty) => {
      const c = ctrlOf(s, inst);
      // Between the open and the marker the controller may have gone (expiry, failed connect).
      if (!c) return false;
      c.state = 'deleting';
      // A delete cancels the reconnect work of a controller whose path is down.
      if (c.recovery !== undefined) setRecovery(l, c, undefined);
      dirty.add(inst);
      m.setControllerState(l, inst, 'deleting');
      return true;
    });
    if (!present) {
      fs.rmSync(marker, { force: true });
      throw gone();
    }
    while (fs.existsSync(deleteHold(l, inst))) await sleep(5);
    await sleep(cfg.latency.deleteMs);
    await transact(l, (s, events, dirty) => {
      if (ctrlOf(s, inst)) removeController(l, cfg, s, inst, events, dirty);
      else fs.rmSync(marker, { force: true });
    });
    this.scheduleDrain();
  }

  /** Kernel-initiated removal: ctrl_loss_tmo expired while reconnecting; no delete_controller write. */
  async expireController(device: string): Promise<void> {
    const inst = sysfs.assertDevice(device);
    const l = this.layout;
    const cfg = readConfig(l);
    await transact(l, (s, events, dirty) => {
      const c = ctrlOf(s, inst);
      if (!c) throw new NvmfError('ENO_CONTROLLER', `controller ${device} does not exist`, { device });
      removeController(l, cfg, s, inst, events, dirty);
    });
    this.scheduleDrain();
  }

  /** The tables `simNbft` installed, read as on Linux (the same reader, the sim's sysfs root). */
  nbftTables(): Promise<NbftTableRead[]> {
    return readNbftTables(this.roots);
  }

  async discoveryLogPage(device: string): Promise<Uint8Array> {
    const inst = sysfs.assertDevice(device);
    const cfg = readConfig(this.layout);
    const c = ctrlOf(readState(this.layout), inst);
    if (!c || !this.deviceNodeExists(device)) {
      throw new NvmfError('ENO_CONTROLLER', `controller ${device} has no device node`, { device });
    }
    if (!c.discovery) {
      // An I/O controller answers Get Log Page 0x70 with Invalid Log Page; the ioctl reports EIO-like status.
      throw kernelError('discovery', 'EIO', `discovery log of ${device} (not a discovery controller)`, {
        device,
      });
    }
    return simDiscoveryLog(
      cfg.targets,
      {
        transport: c.transport,
        ...(c.traddr ? { traddr: c.traddr } : {}),
        ...(c.trsvcid ? { trsvcid: c.trsvcid } : {}),
      },
      c.hostnqn,
    );
  }

  /** Run due udev events in the background while this process lives (udevd's role). */
  private scheduleDrain(delay?: number): void {
    if (this.drainTimer) return;
    let cfg: SimConfig;
    try {
      cfg = readConfig(this.layout);
    } catch {
      return;
    }
    if (cfg.udev.mode !== 'auto') return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      drain(this.layout, this.roots, { wait: false })
        .then(({ nextDue }) => {
          if (nextDue !== null) this.scheduleDrain(Math.max(0, nextDue - Date.now()));
        })
        .catch(() => this.scheduleDrain(50));
    }, delay ?? cfg.udev.delayMs);
    this.drainTimer.unref();
  }

  /** Stop background udev processing (queued events stay for `simUdevSettle`). */
  close(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer.timer);
    this.recoveryTimer = undefined;
  }
}

/** The configured links of subsystem `nqn`: on `port`, or on every port it has. */
function linksOf(t: SimTargets, nqn: string, port?: SimPort): st.SimLink[] {
  const sub = t.subsystems.find((x) => x.nqn === nqn);
  if (!sub) {
    throw new NvmfError('EINVALID_VALUE', `the simulated targets have no subsystem ${nqn}`, { nqn });
  }
  const ports = port === undefined ? sub.ports : sub.ports.filter((q) => samePort(q, port));
  if (ports.length === 0) {
    throw new NvmfError('EINVALID_VALUE', `subsystem ${nqn} is not configured on that port`, { nqn });
  }
  return ports.map((q) => ({ nqn, ...q }));
}

export interface SimInitOptions {
  /** Targets file path or object (docs/sim.md). */
  targets?: string | unknown;
  /** Overrides of the default configuration (latency, udev, multipath, ...). */
  config?: Partial<Omit<SimConfig, 'targets' | 'version'>>;
}

/**
 * Create a simulated host in `dir`, or update the configuration of an existing one (its
 * controllers and seqnum are kept).
 */
export async function simInit(dir: string, o: SimInitOptions = {}): Promise<SimConfig> {
  checkString(dir, 'simInit', 'dir');
  o = checkOptions(o, 'simInit', ['targets', 'config']) as SimInitOptions;
  const l = simLayout(dir);
  for (const d of [
    l.meta,
    l.queue,
    l.scans,
    l.recovery,
    `${l.sys}/kernel`,
    `${l.sys}/class/nvme`,
    `${l.sys}/class/nvme-subsystem`,
    l.dev,
    l.registry,
  ]) {
    fs.mkdirSync(d, { recursive: true });
  }
  const targets = o.targets !== undefined ? loadTargets(o.targets) : undefined;
  return withDirLock(l.lock, () => {
    let prev: SimConfig | undefined;
    try {
      prev = readConfig(l);
    } catch {
      prev = undefined;
    }
    const base = prev ?? defaultConfig();
    const cfg: SimConfig = {
      ...base,
      ...o.config,
      latency: { ...base.latency, ...o.config?.latency },
      udev: { ...base.udev, ...o.config?.udev },
      targets: targets ?? base.targets,
      version: 1,
    };
    writeAtomic(l.config, `${JSON.stringify(cfg, null, 2)}\n`);
    if (!fs.existsSync(l.state))
      writeAtomic(l.state, JSON.stringify({ gen: 0, subsystems: {}, targetCntlids: {} }));
    if (!fs.existsSync(l.seqnum)) writeAtomic(l.seqnum, `${INITIAL_SEQNUM}\n`);
    if (!fs.existsSync(`${l.proc}/self/mountinfo`)) m.writeProc(l, st.emptyBlockUse());
    writeAtomic(`${l.dev}/nvme-fabrics`, `${cfg.fabricsOptions}\n`);
    return cfg;
  });
}

/** Change the configuration of an existing sim (tests: latency, udev mode and delay). */
export function simConfigure(
  dir: string,
  patch: SimInitOptions['config'],
  targets?: string | unknown,
): Promise<SimConfig> {
  return simInit(dir, {
    ...(patch !== undefined ? { config: patch } : {}),
    ...(targets !== undefined ? { targets } : {}),
  });
}

/**
 * Run every queued namespace scan, waiting until each is due unless `now` (the kernel's work
 * queue, flushed). A test's way to wait for the namespaces of the controllers it connected.
 */
export async function simScanSettle(dir: string, o: { now?: boolean } = {}): Promise<void> {
  const l = simLayout(dir);
  readConfig(l);
  for (;;) {
    let next = Number.POSITIVE_INFINITY;
    for (const c of Object.values(readState(l).controllers)) {
      if (c.scan !== undefined) next = Math.min(next, c.scan.dueAt);
    }
    if (next === Number.POSITIVE_INFINITY) return;
    if (o.now !== true && next > Date.now()) await sleep(next - Date.now());
    await transact(l, (s, events, dirty) => {
      if (o.now === true) runScans(l, s, events, dirty, Number.POSITIVE_INFINITY);
    });
  }
}

/**
 * Settle the host: run the queued namespace scans (simScanSettle), then drain the udev queue
 * (waiting for each event's delay unless `now`); returns the udev events processed.
 */
export async function simUdevSettle(dir: string, o: { roots?: Roots; now?: boolean } = {}): Promise<number> {
  checkString(dir, 'simUdevSettle', 'dir');
  const r = checkOptions(o, 'simUdevSettle', ['roots', 'now']);
  const now = checkOptionalBoolean(r.now, 'simUdevSettle', 'now');
  o = {
    ...(r.roots !== undefined
      ? { roots: { ...simRoots(dir), ...checkRoots(r.roots, 'simUdevSettle') } }
      : {}),
    ...(now !== undefined ? { now } : {}),
  };
  const l = simLayout(dir);
  readConfig(l);
  await simScanSettle(dir, o.now !== undefined ? { now: o.now } : {});
  const { processed } = await drain(l, o.roots ?? simRoots(dir), { wait: true, ignoreDelay: o.now ?? false });
  return processed;
}

/**
 * Hold `device`'s next delete_controller write in state DELETING until the returned release
 * runs (a pause hook for tests that force an interleaving with a delete in progress).
 */
export function simHoldDelete(dir: string, device: string): () => void {
  const file = deleteHold(simLayout(dir), sysfs.assertDevice(device));
  fs.writeFileSync(file, '');
  return () => fs.rmSync(file, { force: true });
}

export function simPendingEvents(dir: string): ReturnType<typeof pendingEvents> {
  return pendingEvents(simLayout(dir));
}

export function simUdevLog(dir: string): UdevLogRecord[] {
  return readUdevLog(simLayout(dir));
}

/**
 * Take target subsystem `nqn` away from `port` (all its configured ports when omitted) until
 * simTargetUp: the path loss of docs/sim.md. Controllers there go `resetting`, are `connecting`
 * when this returns, retry every reconnect_delay and are removed by the kernel when
 * ctrl_loss_tmo runs out. This process keeps the recovery timeline going (timers that do not
 * keep it alive); otherwise the next operation of any process on the host catches up.
 * Returns the links now down.
 */
export async function simTargetDown(
  dir: string,
  nqn: string,
  o: { port?: SimPort; roots?: Roots } = {},
): Promise<st.SimLink[]> {
  return kernelOf(dir, o.roots).targetDown(nqn, o.port);
}

/** Serve `nqn` on `port` (all its ports when omitted) again; returns the links still down. */
export async function simTargetUp(
  dir: string,
  nqn: string,
  o: { port?: SimPort; roots?: Roots } = {},
): Promise<st.SimLink[]> {
  return kernelOf(dir, o.roots).targetUp(nqn, o.port);
}

/** A SimKernel of `dir` for one call of the module-level helpers. */
function kernelOf(dir: string, roots: Roots | undefined): SimKernel {
  return new SimKernel({ dir, ...(roots !== undefined ? { roots } : {}) });
}

/** Links taken away with simTargetDown and not given back. */
export function simDownLinks(dir: string): st.SimLink[] {
  return readState(simLayout(dir)).downLinks;
}

/** A block device name as `nvmf sim mount|swapon|hold` take it (`/dev/` prefix allowed). */
function blockArg(what: string, v: string): string {
  const name = typeof v === 'string' ? v.replace(/^\/dev\//, '') : '';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${what}: "${String(v)}" is not a block device name (e.g. nvme0n1, nvme0n1p1, dm-0)`,
      {
        device: String(v),
      },
    );
  }
  return name;
}

/** `name`'s `major:minor` on the simulated host; a clear error for a hidden path or an unknown name. */
function blockDevOf(l: SimLayout, what: string, name: string): string {
  const p = /^nvme(\d+)c(\d+)n(\d+)$/.exec(name);
  if (p) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${what}: ${name} is a hidden multipath path (no device node); use its head nvme${p[1]}n${p[3]}`,
      { device: name },
    );
  }
  const dir = m.blockDir(l, name);
  const dev = dir === null ? null : sysfs.readAttrSync(dir, 'dev');
  if (dev === null) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${what}: ${name} is not a block device of the simulated host ${l.dir} (see its sys/class/block)`,
      { device: name },
    );
  }
  return dev;
}

/** What already claims `name` exclusively (a holder, swap, a mount), as the kernel would refuse with EBUSY. */
function claimOf(u: st.SimBlockUse, name: string, o: { mounts: boolean }): string | null {
  const holder = Object.entries(u.holders).find(([, h]) => h.slaves.includes(name));
  if (holder) return `held by ${holder[0]}`;
  if (u.swaps.some((w) => w.device === name)) return 'active swap';
  const mount = o.mounts ? u.mounts.find((x) => x.device === name) : undefined;
  return mount ? `mounted at ${mount.mountPoint}` : null;
}

function busy(what: string, name: string, claim: string): NvmfError {
  return new NvmfError('EKERNEL', `${what}: ${name} is busy (${claim})`, { device: name, errno: 'EBUSY' });
}

/**
 * Mount a filesystem on block device `device` (a disk, partition or holder) at `mountPoint`:
 * it appears in the host's `proc/self/mountinfo` with the device's major:minor. A device a
 * holder or swap claims is busy (EBUSY), as for mount(8). Returns the mounts.
 */
export async function simMount(dir: string, device: string, mountPoint: string): Promise<st.SimMount[]> {
  const l = simLayout(dir);
  readConfig(l);
  const name = blockArg('sim mount', device);
  const point = mountPointArg('sim mount', mountPoint);
  return transact(l, (s) => {
    const dev = blockDevOf(l, 'sim mount', name);
    const claim = claimOf(s.blockUse, name, { mounts: false });
    if (claim !== null) throw busy('sim mount', name, claim);
    s.blockUse.mounts.push({ id: s.blockUse.nextMountId++, device: name, dev, mountPoint: point });
    m.writeProc(l, s.blockUse);
    return [...s.blockUse.mounts];
  });
}

function mountPointArg(what: string, v: string): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.includes('\0')) {
    throw new NvmfError(
      'EINVALID_VALUE',
      `${what}: the mount point must be an absolute path, got ${JSON.stringify(v)}`,
      {
        value: String(v),
      },
    );
  }
  return v.length > 1 ? v.replace(/\/+$/, '') : v;
}

/** Unmount the filesystem mounted last at `mountPoint`; not mounted there is EINVAL, as umount(8) says. */
export async function simUmount(dir: string, mountPoint: string): Promise<st.SimMount[]> {
  const l = simLayout(dir);
  readConfig(l);
  const point = mountPointArg('sim umount', mountPoint);
  return transact(l, (s) => {
    const i = s.blockUse.mounts.map((x) => x.mountPoint).lastIndexOf(point);
    if (i < 0) {
      throw new NvmfError('EKERNEL', `sim umount: ${point}: not mounted`, { errno: 'EINVAL', value: point });
    }
    s.blockUse.mounts.splice(i, 1);
    m.writeProc(l, s.blockUse);
    return [...s.blockUse.mounts];
  });
}

/** Activate swap on block device `device` (`proc/swaps`); busy when mounted, held or already swap. */
export async function simSwapon(dir: string, device: string): Promise<st.SimSwap[]> {
  const l = simLayout(dir);
  readConfig(l);
  const name = blockArg('sim swapon', device);
  return transact(l, (s) => {
    const dev = blockDevOf(l, 'sim swapon', name);
    const claim = claimOf(s.blockUse, name, { mounts: true });
    if (claim !== null) throw busy('sim swapon', name, claim);
    s.blockUse.swaps.push({ device: name, dev });
    m.writeProc(l, s.blockUse);
    return [...s.blockUse.swaps];
  });
}

/** The `major:minor` a holder gets: device-mapper's dynamic major (253 here) or md's 9. */
function holderDev(what: string, holder: string): string {
  const dm = /^dm-(\d{1,6})$/.exec(holder);
  if (dm) return `253:${Number(dm[1])}`;
  const md = /^md(\d{1,6})$/.exec(holder);
  if (md) return `9:${Number(md[1])}`;
  throw new NvmfError(
    'EINVALID_DEVICE',
    `${what}: holder "${holder}" must be a device-mapper (dm-N) or md (mdN) name`,
    {
      device: holder,
    },
  );
}

/**
 * Stack holder `holder` (dm-N or mdN; created when new) on block device `device`, as
 * device-mapper, LVM or md do: `device/holders/<holder>` and `holder/slaves/<device>`. The
 * holder is itself a block device that can be mounted, swapped on or held. A mounted or swap
 * device is busy. Returns the holders.
 */
export async function simHold(
  dir: string,
  device: string,
  holder: string,
): Promise<Record<string, st.SimHolder>> {
  const l = simLayout(dir);
  readConfig(l);
  const name = blockArg('sim hold', device);
  const h = blockArg('sim hold', holder);
  const hdev = holderDev('sim hold', h);
  if (name === h)
    throw new NvmfError('EINVALID_VALUE', `sim hold: ${name} cannot hold itself`, { device: name });
  return transact(l, (s) => {
    blockDevOf(l, 'sim hold', name);
    const claim = claimOf(s.blockUse, name, { mounts: true });
    if (claim !== null) throw busy('sim hold', name, claim);
    const u = s.blockUse;
    const existing = u.holders[h];
    if (existing === undefined) {
      if (m.blockDir(l, h) !== null) {
        throw new NvmfError('EINVALID_DEVICE', `sim hold: ${h} exists and is not a holder`, { device: h });
      }
      m.writeHolder(l, h, hdev);
    }
    // A cycle (a holder under itself) is what the kernel's bd_link_disk_holder refuses.
    const above = (x: string, seen = new Set<string>()): boolean =>
      x === name ||
      (!seen.has(x) &&
        (seen.add(x), Object.entries(u.holders).some(([k, v]) => v.slaves.includes(x) && above(k, seen))));
    if (above(h))
      throw new NvmfError('EKERNEL', `sim hold: ${h} already sits above ${name}`, { errno: 'EINVAL' });
    u.holders[h] = { dev: hdev, slaves: [...(existing?.slaves ?? []), name] };
    m.linkHolder(l, name, h);
    return { ...u.holders };
  });
}

/** Kernel-initiated removal of `device` (ctrl-loss-tmo expiry), from any process. */
export async function simExpireController(dir: string, device: string): Promise<void> {
  const k = new SimKernel({ dir });
  try {
    await k.expireController(device);
  } finally {
    k.close();
  }
}

/**
 * Make `op` on `device` fail with `errno` in every process using the sim: `count` times, or
 * until cleared when omitted. Returns the faults now set.
 */
export async function simFail(
  dir: string,
  device: string,
  o: { op: SimFaultOp; errno: string; count?: number },
): Promise<SimFault[]> {
  const l = simLayout(dir);
  readConfig(l);
  sysfs.assertDevice(device);
  return setFault(l, { device, op: o.op, errno: o.errno, remaining: o.count ?? null });
}

/** Remove the injected faults of `device` (all when omitted); returns those left. */
export function simClearFaults(dir: string, device?: string): Promise<SimFault[]> {
  const l = simLayout(dir);
  readConfig(l);
  if (device !== undefined) sysfs.assertDevice(device);
  return clearFaults(l, device);
}

export function simFaults(dir: string): SimFault[] {
  return listFaults(simLayout(dir));
}

const NBFT_NAME_RE = /^NBFT([1-9][0-9]*)?$/;

/**
 * Install an NBFT blob as the firmware would have left it: `sys/firmware/acpi/tables/NAME`
 * (default `NBFT`; the kernel names later tables of one signature `NBFT1`, `NBFT2`, ...),
 * readable by its owner only, as the kernel's 0400. The bytes are not checked: the kernel
 * exposes whatever the firmware wrote, a corrupt table included. Returns the file's path.
 */
export function simNbft(dir: string, file: string, o: { name?: string } = {}): string {
  const l = simLayout(checkString(dir, 'simNbft', 'dir'));
  readConfig(l); // a sim host, not any directory
  const name = checkOptions(o, 'simNbft', ['name']).name ?? 'NBFT';
  if (typeof name !== 'string' || !NBFT_NAME_RE.test(name))
    throw new NvmfError(
      'EINVALID_VALUE',
      `an NBFT table is named NBFT, NBFT1, NBFT2, ...; got ${JSON.stringify(name)}`,
      {},
    );
  checkString(file, 'simNbft', 'file');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new NvmfError('EIO', `cannot read ${file}: ${errnoOf(e) ?? String(e)}`, { file });
  }
  const tables = acpiTablesDir(l.sys);
  fs.mkdirSync(tables, { recursive: true });
  const dest = `${tables}/${name}`;
  writeAtomic(dest, bytes);
  fs.chmodSync(dest, 0o400);
  return dest;
}

/** `NVMF_KERNEL=sim:DIR` -> the sim with DIR's roots (NVMF_*_ROOT still override); else linux. */
export async function kernelFromEnv(env: Env = process.env): Promise<{ kernel: Kernel; roots: Roots }> {
  const e = checkOptions(env, 'kernelFromEnv env', [...ENV_KEYS, 'NVMF_KERNEL']);
  for (const [k, v] of Object.entries(e)) checkString(v, 'kernelFromEnv', `env.${k}`);
  env = e as Env;
  const spec = env['NVMF_KERNEL'];
  if (spec !== undefined && spec !== '' && spec !== 'linux') {
    if (!spec.startsWith('sim:') || spec.length <= 4) {
      throw new NvmfError('EINVALID_VALUE', `NVMF_KERNEL="${spec}" is not understood; use sim:DIR or linux`, {
        value: spec,
      });
    }
    const dir = spec.slice(4);
    const roots = rootsFromEnv(env, simRoots(dir));
    return { kernel: new SimKernel({ dir, roots }), roots };
  }
  const roots = rootsFromEnv(env);
  const { LinuxKernel } = await import('./linux.js');
  return { kernel: new LinuxKernel({ roots }), roots };
}
