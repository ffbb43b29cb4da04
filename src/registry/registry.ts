import fs from 'node:fs';
import path from 'node:path';
import type { AuditEvent, Auditor } from '../audit/event.js';
import { makeDirs } from '../dirs.js';
import {
  checkOptionalBoolean,
  checkOptionalFunction,
  checkOptionalNumber,
  checkOptionalString,
  checkOptions,
  checkRecord,
  checkRoots,
  describe,
  invalidOption,
} from '../args.js';
import { errnoOf, isNvmfError, NvmfError } from '../errors.js';
import { linuxHostFacts } from '../kernel/host-facts.js';
import type { HostFacts } from '../kernel/port.js';
import { ENV_KEYS, type Env, type Roots, rootsFromEnv } from '../roots.js';
import {
  DIR_MODE,
  ioError,
  lstatOrNull,
  makeDir,
  type FileKind,
  readAttrFile,
  removeQuietly,
  replaceFile,
  requireDir,
  under,
  uniqueSuffix,
  writeNewFile,
} from './fsx.js';
import {
  type DirName,
  type Entry,
  entryFrom,
  type LiveController,
  type LiveFacts,
  ownerOnDisk,
  unreadableEntry,
  vanished,
} from './entry.js';
import {
  type ControllerIdentity,
  countsAsUnowned,
  identityAttr,
  IDENTITY_FIELDS,
  identityOf,
  type OwnershipVerdict,
  ownershipVerdict,
  verdictOwner,
  verdictWords,
} from './verdict.js';
import { exchangePaths } from './rename-exchange.js';
import { type GcOptions, type GcReport, runGc } from './gc.js';
import {
  type ConnectIntent,
  type ConnectIntentRecord,
  type ConnectTarget,
  type ControllerLike,
  intentMatches,
  listIntents,
  writeIntent,
} from './intents.js';
import { DEFAULT_LOCK_TIMEOUT_MS, withDeviceLock, withDeviceLockAsync } from './lock.js';
import {
  checkAttr,
  checkDevice,
  checkOwner,
  checkSeqnum,
  checkValue,
  checkWritableAttr,
  isDevice,
  isInternalName,
  naturalCompare,
  quote,
  valueProblem,
} from './names.js';

export type { Entry, LiveController } from './entry.js';

/** A controller as a listing hands it to the registry (the kernel's ControllerInfo fits). */
export type ListedController = ControllerLike & { readonly device: string };

export interface RegistryOptions {
  /** Explicit roots win over env, which wins over the host defaults. */
  roots?: Partial<Roots>;
  env?: Env;
  /**
   * Where the registry's records go (one per change it makes). Handed in, never chosen here:
   * the CLI passes `defaultAuditor()`, a library user that or an auditor of their own.
   */
  audit: Auditor;
  /**
   * The host as the registry needs it (device liveness for guard 1, the uevent seqnum, the
   * boot id): pass the Kernel you use (`host: kernel`). Default: the Linux host facts under
   * the roots (`linuxHostFacts`). The registry never reads sysfs, /dev or /proc itself.
   */
  host?: HostFacts;
  /** Clock in ms (gc ages). */
  now?: () => number;
  /** How long a writer waits for a device lock before ELOCKED. */
  lockTimeoutMs?: number;
}

export interface ClaimOptions {
  /**
   * undefined = no precondition; null = only if unowned; a string = only if that is the
   * owner. Judged by the ownership verdict: a previous controller's entry counts as unowned,
   * an unknown owner matches nothing.
   */
  expect?: string | null;
  /** Ignore `expect`. */
  force?: boolean;
  /**
   * Create the entry when there is none (a controller connected outside the registry),
   * stamped with this uevent seqnum, in the same locked step as the check; refused
   * (ENO_CONTROLLER) when the controller does not exist. Without it an absent entry is
   * ENOT_REGISTERED. An absent entry counts as unowned for `expect`.
   */
  seqnum?: number;
}

export const BOOT_ID_FILE = '.boot_id';

/** Internals gc needs; not part of the public API. */
export interface RegistryContext {
  readonly root: string;
  readonly audit: Auditor;
  /** The live controller of a name (sysfs), null when there is none. */
  readonly liveController: (device: string) => LiveController | null;
  readonly readSeqnum: () => number;
  readonly now: () => number;
  readonly lockTimeoutMs: number;
  currentBootId(): string | null;
  readEntryIn(dir: string, device: string): Entry;
  emit(event: AuditEvent): void;
}

export class Registry {
  readonly root: string;
  readonly roots: Roots;
  private readonly audit: Auditor;
  private readonly host: HostFacts;
  private readonly liveOf: (device: string) => LiveController | null;
  private readonly clock: () => number;
  private readonly lockTimeoutMs: number;
  private rootChecked = false;

  private constructor(opts: RegistryOptions) {
    const fromEnv = rootsFromEnv(opts.env ?? process.env);
    this.roots = {
      registry: path.resolve(opts.roots?.registry ?? fromEnv.registry),
      sysfs: path.resolve(opts.roots?.sysfs ?? fromEnv.sysfs),
      dev: path.resolve(opts.roots?.dev ?? fromEnv.dev),
      proc: path.resolve(opts.roots?.proc ?? fromEnv.proc),
    };
    this.root = this.roots.registry;
    this.audit = opts.audit;
    const host = opts.host ?? linuxHostFacts(this.roots);
    this.host = host;
    // Liveness is the sysfs fact the kernel hands; a hand-made host without it has its
    // device nodes stand in, with no identity.
    const live = host.liveController?.bind(host);
    this.liveOf =
      live !== undefined ? (d) => live(d) : (d) => (host.deviceNodeExists(d) ? { identity: null } : null);
    this.clock = opts.now ?? Date.now;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  static open(opts: RegistryOptions): Registry {
    return new Registry(checkRegistryOptions(opts));
  }

  // ---- reads ------------------------------------------------------------------------

  /** One entry, or null when not registered (or no registry yet). */
  read(device: string): Entry | null {
    checkDevice(device);
    if (!this.rootExists()) return null;
    const dir = under(this.root, device);
    const st = lstatOrNull(dir);
    if (st === null) return null;
    requireDir(st, dir, 'entry', { device });
    try {
      return this.readEntryIn(dir, device, this.facts(), st);
    } catch (e) {
      if (isNvmfError(e, 'ENOT_REGISTERED')) return null;
      throw e;
    }
  }

  /**
   * The ownership verdict of `device`'s live controller, in one read: of the entry (none:
   * unowned; unreadable: unknown) against the controller the registry is handed (its host
   * facts, or `controller` when the caller has just listed it).
   */
  verdict(device: string, controller?: ListedController | null): OwnershipVerdict {
    checkDevice(device);
    const facts =
      controller === undefined
        ? this.facts()
        : factsOf(controller === null ? [] : checkListed([controller], 'verdict'), this.clock());
    try {
      if (!this.rootExists()) return ownershipVerdict(null, null, facts.now);
      const dir = under(this.root, device);
      const st = lstatOrNull(dir);
      if (st === null) return ownershipVerdict(null, null, facts.now);
      requireDir(st, dir, 'entry', { device });
      return this.readEntryIn(dir, device, facts, st).verdict;
    } catch (e) {
      if (isNvmfError(e, 'ENOT_REGISTERED')) return ownershipVerdict(null, null, facts.now);
      if (!isNvmfError(e)) throw e;
      return ownershipVerdict({ owner: null, error: { code: e.code, message: e.message } }, null, facts.now);
    }
  }

  /** One attribute (owner and seqnum included), or null when absent or empty. */
  readAttr(device: string, attr: string): string | null {
    checkDevice(device);
    checkAttr(attr);
    if (!this.rootExists()) return null;
    const dir = under(this.root, device);
    const st = lstatOrNull(dir);
    if (st === null) return null;
    requireDir(st, dir, 'entry', { device });
    return readAttrFile(under(dir, attr), { device, attr });
  }

  /**
   * All entries, live (their controller exists) and stale, in natural order, each with its
   * verdict. Unreadable ones carry `error`. `controllers`: a listing the caller just took,
   * which then stands in for the host facts (liveness and identity), so the verdicts agree
   * with what the caller plans from.
   */
  list(opts: { controllers?: readonly ListedController[] } = {}): { live: Entry[]; stale: Entry[] } {
    const given = checkOptions(opts, 'list', ['controllers']).controllers;
    const live: Entry[] = [];
    const stale: Entry[] = [];
    if (!this.rootExists()) return { live, stale };
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(this.root, { withFileTypes: true });
    } catch (e) {
      throw ioError(e, `cannot list registry ${quote(this.root)}`);
    }
    const entries = inNaturalOrder(dirents);
    const facts = given === undefined ? this.facts() : factsOf(checkListed(given, 'list'), this.clock());
    for (const d of entries) {
      const device = d.name;
      const dir = under(this.root, device);
      let entry: Entry;
      try {
        // d_type from the same readdir stands in for an lstat; only other types pay for one.
        if (!d.isDirectory()) {
          const st = lstatOrNull(dir);
          if (st === null) continue;
          requireDir(st, dir, 'entry', { device });
        }
        entry = this.readEntryIn(dir, device, facts);
      } catch (e) {
        if (!isNvmfError(e)) throw e;
        if (e.code === 'ENOT_REGISTERED') continue;
        entry = unreadableEntry(device, e, facts.controller(device) !== null);
      }
      (entry.live ? live : stale).push(entry);
    }
    return { live, stale };
  }

  // ---- writes -----------------------------------------------------------------------

  /**
   * Create the entry of a controller the kernel just made: built whole in a hidden temp
   * directory and renamed into place. Whatever was there (a stale entry of a recycled
   * instance) is replaced atomically (see publish), and a lock-less remover deleting it
   * meanwhile does not make this fail.
   */
  create(device: string, init: { owner: string | null; seqnum: number }): Entry {
    checkDevice(device);
    const fields = checkRecord(init, 'create', ['owner', 'seqnum']);
    const owner = fields.owner === null ? null : checkOwner(fields.owner);
    const seqnum = checkSeqnum(fields.seqnum);
    this.ensureRoot();
    let identity: ControllerIdentity | null = null;
    const published = this.locked(device, () => {
      identity = this.liveOf(device)?.identity ?? null;
      const tmp = this.buildEntry(device, owner, seqnum, identity);
      try {
        return this.publish(device, tmp);
      } catch (e) {
        removeQuietly(tmp);
        throw ioError(e, `cannot create entry ${device}`, { device });
      }
    });
    this.emit({
      action: 'entry-created',
      device,
      owner,
      seqnum,
      ...(published.replaced
        ? {
            prevOwner: published.prev?.owner ?? null,
            reason: 'replaced a stale entry of a recycled instance',
          }
        : {}),
    });
    const live = this.liveOf(device);
    const read = { owner, identity };
    return {
      device,
      owner,
      seqnum,
      attrs: {},
      live: live !== null,
      identity,
      verdict: ownershipVerdict(read, live?.identity, this.clock()),
    };
  }

  /** Set one private attribute (or `owner`, validated as one); `seqnum` is reserved. */
  setAttr(device: string, attr: string, value: string): void {
    checkDevice(device);
    checkWritableAttr(attr);
    if (attr === 'owner') {
      this.claim(device, value);
      return;
    }
    checkValue(attr, value);
    this.ensureRoot();
    this.locked(device, () => {
      const dir = this.requireEntry(device);
      try {
        replaceFile(dir, attr, value);
      } catch (e) {
        throw ioError(e, `cannot set ${attr} of ${device}`, { device, attr });
      }
    });
    // The value is the writer's private business and may be sensitive: the name only.
    this.emit({ action: 'attr-set', device, extra: { attr } });
  }

  /** Remove one private attribute (or `owner` = disown). Returns whether it existed. */
  unsetAttr(device: string, attr: string): boolean {
    checkDevice(device);
    checkWritableAttr(attr);
    if (attr === 'owner') return this.disown(device).prevOwner !== null;
    if (!this.rootExists()) return false;
    const existed = this.locked(device, () => {
      const dir = this.requireEntry(device);
      try {
        fs.unlinkSync(under(dir, attr));
        return true;
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return false;
        throw ioError(e, `cannot unset ${attr} of ${device}`, { device, attr });
      }
    });
    if (existed) this.emit({ action: 'attr-unset', device, extra: { attr } });
    return existed;
  }

  /**
   * Compare-and-set the owner under the device lock, judged by the ownership verdict (a
   * previous controller's entry counts as unowned, an unknown owner matches no `expect`).
   * The owner file is replaced by rename, so neither the entry nor the owner is ever briefly
   * absent, and the seqnum stamp is left as it is. The live controller's identity is
   * recorded. An entry that belongs to a previous controller, or cannot be read, is replaced
   * whole by a fresh one (owner, identity, a stamp read now), as a connect would.
   */
  claim(
    device: string,
    owner: string,
    opts: ClaimOptions = {},
  ): { prevOwner: string | null; created: boolean } {
    checkDevice(device);
    checkOwner(owner);
    const o = checkOptions(opts, 'claim', ['expect', 'force', 'seqnum']);
    const expect = checkExpect(o.expect);
    const force = checkOptionalBoolean(o.force, 'claim', 'force') === true;
    const seqnum = o.seqnum === undefined ? undefined : checkSeqnum(o.seqnum);
    this.ensureRoot();
    type Done = {
      how: 'created' | 'replaced' | 'set';
      prev: OwnershipVerdict;
      prevRaw: string | null;
      stamp?: number;
    };
    const done = this.locked(device, (): Done => {
      const dir = under(this.root, device);
      const live = this.liveOf(device);
      const identity = live?.identity ?? null;
      const st = lstatOrNull(dir);
      if (st === null) {
        if (seqnum === undefined) throw notRegistered(device);
        if (live === null) throw controllerGone(device);
        const prev = ownershipVerdict(null, null, this.clock());
        if (!force && typeof expect === 'string') throw conflict(device, prev, expect);
        const tmp = this.buildEntry(device, owner, seqnum, identity);
        try {
          fs.renameSync(tmp, dir);
        } catch (e) {
          removeQuietly(tmp);
          throw ioError(e, `cannot create entry ${device}`, { device });
        }
        return { how: 'created', prev, prevRaw: null, stamp: seqnum };
      }
      requireDir(st, dir, 'entry', { device });
      let entry: Entry | null;
      let prev: OwnershipVerdict;
      try {
        entry = this.readEntryIn(dir, device, this.facts(), st);
        prev = entry.verdict;
      } catch (e) {
        // An entry that cannot be read is replaced only by force: without, say why (fail closed).
        if (!isNvmfError(e) || e.code === 'ENOT_REGISTERED' || !force) throw e;
        entry = null;
        prev = ownershipVerdict({ owner: null, error: { code: e.code, message: e.message } }, null, 0);
      }
      if (!force && expect !== undefined && !verdictIs(prev, expect)) throw conflict(device, prev, expect);
      if (entry === null || prev.kind === 'previous') {
        // Not this controller's entry (or not readable): a fresh one, stamped now, so a queued
        // remove event of the previous controller cannot take it.
        const stamp = seqnum ?? this.host.ueventSeqnum();
        const tmp = this.buildEntry(device, owner, stamp, identity);
        try {
          this.publish(device, tmp);
        } catch (e) {
          removeQuietly(tmp);
          throw ioError(e, `cannot replace entry ${device}`, { device });
        }
        return { how: 'replaced', prev, prevRaw: entry?.owner ?? null, stamp };
      }
      try {
        if (entry.owner !== owner) replaceFile(dir, 'owner', owner);
        if (identity !== null && entry.identity === null) writeIdentity(dir, identity);
      } catch (e) {
        throw ioError(e, `cannot set the owner of ${device}`, { device });
      }
      return { how: 'set', prev, prevRaw: entry.owner };
    });
    const prevOwner = verdictOwner(done.prev);
    if (done.how === 'created') {
      this.emit({
        action: 'entry-created',
        device,
        owner,
        ...(done.stamp !== undefined ? { seqnum: done.stamp } : {}),
        reason: 'claimed a controller that had no entry',
      });
    } else if (done.how === 'replaced') {
      this.emit({
        action: 'entry-created',
        device,
        owner,
        prevOwner: done.prevRaw,
        ...(done.stamp !== undefined ? { seqnum: done.stamp } : {}),
        reason: `claimed over ${verdictWords(done.prev)}`,
      });
    } else if (done.prev.kind === 'unknown') {
      this.emit({
        action: 'owner-changed',
        device,
        owner,
        prevOwner: done.prevRaw,
        reason: verdictWords(done.prev),
      });
    } else if (prevOwner === null) this.emit({ action: 'claim', device, owner, prevOwner });
    else if (prevOwner !== owner) this.emit({ action: 'owner-changed', device, owner, prevOwner });
    return { prevOwner, created: done.how === 'created' };
  }

  /**
   * Remove the owner. A missing entry is already unowned. `expect` is judged by the verdict
   * as in claim; `force` removes whatever owner file is there, an unreadable one included.
   */
  disown(
    device: string,
    opts: { expect?: string | null; force?: boolean } = {},
  ): { prevOwner: string | null } {
    checkDevice(device);
    const o = checkOptions(opts, 'disown', ['expect', 'force']);
    const expect = checkExpect(o.expect);
    const force = checkOptionalBoolean(o.force, 'disown', 'force') === true;
    const none = ownershipVerdict(null, null, this.clock());
    if (!this.rootExists()) {
      if (!force && typeof expect === 'string') throw conflict(device, none, expect);
      return { prevOwner: null };
    }
    const done = this.locked(device, (): { prev: OwnershipVerdict; removed: string | null | undefined } => {
      const dir = under(this.root, device);
      const st = lstatOrNull(dir);
      if (st === null) {
        if (!force && typeof expect === 'string') throw conflict(device, none, expect);
        return { prev: none, removed: undefined };
      }
      requireDir(st, dir, 'entry', { device });
      let prev: OwnershipVerdict;
      let raw: string | null = null;
      try {
        const entry = this.readEntryIn(dir, device, this.facts(), st);
        prev = entry.verdict;
        raw = entry.owner;
      } catch (e) {
        if (!isNvmfError(e) || e.code === 'ENOT_REGISTERED') throw e;
        if (!force) throw e;
        prev = ownershipVerdict({ owner: null, error: { code: e.code, message: e.message } }, null, 0);
      }
      if (!force && expect !== undefined && !verdictIs(prev, expect)) throw conflict(device, prev, expect);
      if (raw === null && prev.kind !== 'unknown') return { prev, removed: undefined };
      try {
        fs.unlinkSync(under(dir, 'owner'));
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return { prev, removed: undefined };
        throw ioError(e, `cannot disown ${device}`, { device });
      }
      return { prev, removed: raw };
    });
    if (done.removed !== undefined)
      this.emit({
        action: 'disown',
        device,
        prevOwner: done.removed,
        owner: null,
        ...(done.prev.kind === 'owned' ? {} : { reason: verdictWords(done.prev) }),
      });
    return { prevOwner: verdictOwner(done.prev) };
  }

  /** Delete the entry: rename to a hidden trash sibling, then purge. Returns whether it existed. */
  delete(device: string): boolean {
    checkDevice(device);
    if (!this.rootExists()) return false;
    let prevOwner: string | null = null;
    const existed = this.locked(device, () => {
      const dir = under(this.root, device);
      const st = lstatOrNull(dir);
      if (st === null) return false;
      requireDir(st, dir, 'entry', { device });
      try {
        prevOwner = this.currentOwner(dir, device);
      } catch {
        prevOwner = null;
      }
      const trash = under(this.root, `.${device}.trash.${uniqueSuffix()}`);
      try {
        fs.renameSync(dir, trash);
      } catch (e) {
        throw ioError(e, `cannot delete entry ${device}`, { device });
      }
      removeQuietly(trash);
      return true;
    });
    if (existed) this.emit({ action: 'entry-removed', device, prevOwner });
    return existed;
  }

  /**
   * Run `fn` holding `device`'s lock, for asynchronous callers: the wait does not block the
   * event loop, and this registry's writes on `device` inside `fn` are re-entrant.
   */
  async withLock<T>(device: string, fn: () => Promise<T>): Promise<T> {
    checkDevice(device);
    if (typeof fn !== 'function')
      throw invalidOption('withLock', `fn must be a function, got ${describe(fn)}`);
    this.ensureRoot();
    return withDeviceLockAsync(this.root, device, fn, this.lockTimeoutMs);
  }

  gc(opts: GcOptions = {}): GcReport {
    const o = checkOptions(opts, 'gc', ['graceMs', 'dryRun', 'isStale']);
    const checked: GcOptions = {};
    const graceMs = checkOptionalNumber(o.graceMs, 'gc', 'graceMs');
    const dryRun = checkOptionalBoolean(o.dryRun, 'gc', 'dryRun');
    const isStale = checkOptionalFunction<(device: string) => boolean>(o.isStale, 'gc', 'isStale');
    if (graceMs !== undefined) checked.graceMs = graceMs;
    if (dryRun !== undefined) checked.dryRun = dryRun;
    if (isStale !== undefined) checked.isStale = isStale;
    return runGc(this.context(), checked);
  }

  /**
   * Disconnect-all's re-check of a candidate, for a caller holding `device`'s lock (inside
   * withLock, so the answer holds until it releases): why the verdict of the entry against
   * `controller` (the controller as it is now) no longer says what the plan saw (`owner`:
   * the owner planned, null = planned as unowned), or, planned unowned, which connect in
   * progress now announces `controller`; null when nothing changed. Intents are read after
   * the entry: while the lock is held no connector can publish this entry, and a connector
   * ends its intent only after publishing, so an intent for this controller is still there now.
   */
  ownershipChange(device: string, owner: string | null, controller: ControllerLike): string | null {
    checkDevice(device);
    if (owner !== null && owner !== '') checkOwner(owner);
    const now = this.verdict(device, { ...controller, device } as ListedController);
    if (now.kind === 'unknown') return `owner unknown now (${now.reason})`;
    const nowOwner = verdictOwner(now);
    if (nowOwner !== owner)
      return nowOwner === null
        ? 'owner removed'
        : `now owned by ${nowOwner === '' ? 'the empty name ("")' : nowOwner}`;
    if (nowOwner !== null) return null;
    const pending = this.liveIntents().find((i) => intentMatches(i, controller));
    return pending === undefined ? null : `connect in progress (owner ${pending.owner}, pid ${pending.pid})`;
  }

  // ---- connect intents --------------------------------------------------------------

  /** Announce a connect before writing to /dev/nvme-fabrics; end() it once the entry is written. */
  beginConnect(target: ConnectTarget, owner: string): ConnectIntent {
    checkOwner(owner);
    this.ensureRoot();
    try {
      return writeIntent(this.root, target, owner, this.clock());
    } catch (e) {
      throw ioError(e, `cannot record the connect intent in ${quote(this.root)}`);
    }
  }

  /** Intents whose writer is still running. */
  liveIntents(): ConnectIntentRecord[] {
    if (!this.rootExists()) return [];
    return listIntents(this.root, true);
  }

  // ---- internals --------------------------------------------------------------------

  private context(): RegistryContext {
    return {
      root: this.root,
      audit: this.audit,
      liveController: this.liveOf,
      readSeqnum: () => this.host.ueventSeqnum(),
      now: this.clock,
      lockTimeoutMs: this.lockTimeoutMs,
      currentBootId: () => this.currentBootId(),
      readEntryIn: (dir, device) => this.readEntryIn(dir, device, this.facts()),
      emit: (event) => this.emit(event),
    };
  }

  private emit(event: AuditEvent): void {
    try {
      this.audit.record(event);
    } catch {
      // an auditor must not undo a change that is already visible
    }
  }

  /** The live controllers as the host facts give them, and the time verdicts are judged at. */
  private facts(): LiveFacts {
    return { controller: this.liveOf, now: this.clock() };
  }

  /** The whole entry in a hidden temp directory, ready to be renamed into place (caller holds the lock). */
  private buildEntry(
    device: string,
    owner: string | null,
    seqnum: number,
    identity: ControllerIdentity | null,
  ): string {
    const tmp = under(this.root, `.${device}.tmp.${uniqueSuffix()}`);
    try {
      makeDir(tmp);
      if (owner !== null) writeNewFile(under(tmp, 'owner'), owner);
      writeNewFile(under(tmp, 'seqnum'), String(seqnum));
      if (identity !== null)
        for (const [name, v] of identityFiles(identity)) writeNewFile(under(tmp, name), v);
    } catch (e) {
      removeQuietly(tmp);
      throw ioError(e, `cannot create entry ${device}`, { device });
    }
    return tmp;
  }

  /**
   * Put the entry built at `tmp` in place of whatever is at the entry's name (caller holds
   * the device's lock): renamed in where there is none, swapped in with the old entry where
   * there is one (replaceEntryDir). Writers that take no lock (upstream's udev rule, a hand
   * `rm -rf`, libnvme itself) may remove or create the entry at any moment, so a step
   * failing as such a change explains (ENOENT: the old entry went away; ENOTEMPTY, EEXIST:
   * one appeared) is judged again from a fresh lstat, a bounded number of times.
   */
  private publish(device: string, tmp: string): { replaced: boolean; prev: Entry | null } {
    const dir = under(this.root, device);
    for (let attempt = 1; ; attempt++) {
      try {
        const st = lstatOrNull(dir);
        let prev: Entry | null = null;
        if (st !== null) {
          requireDir(st, dir, 'entry', { device });
          try {
            prev = this.readEntryIn(dir, device, this.facts(), st);
          } catch {
            prev = null;
          }
        }
        publishHooks.beforeRename?.(device, attempt);
        if (st === null) {
          fs.renameSync(tmp, dir);
          return { replaced: false, prev: null };
        }
        replaceEntryDir(this.root, device, tmp, dir);
        return { replaced: true, prev };
      } catch (e) {
        if (attempt >= PUBLISH_ATTEMPTS || !PUBLISH_RACES.has(errnoOf(e) ?? '')) throw e;
      }
    }
  }

  private locked<T>(device: string, fn: () => T): T {
    return withDeviceLock(this.root, device, fn, this.lockTimeoutMs);
  }

  /** Root present and a real directory? Missing = no registry yet. */
  private rootExists(): boolean {
    const st = lstatOrNull(this.root);
    if (st === null) return false;
    requireDir(st, this.root, 'registry root');
    return true;
  }

  /** Writers: the root exists (created 0755 and stamped with the boot id if it did not). */
  private ensureRoot(): void {
    const st = lstatOrNull(this.root);
    if (st !== null) {
      requireDir(st, this.root, 'registry root');
      if (!this.rootChecked) {
        this.rootChecked = true;
        if (lstatOrNull(under(this.root, BOOT_ID_FILE)) === null) this.stampBootId();
      }
      return;
    }
    try {
      makeDirs(this.root, DIR_MODE);
    } catch (e) {
      throw ioError(e, `cannot create registry root ${quote(this.root)}`);
    }
    this.rootChecked = true;
    this.stampBootId();
  }

  private stampBootId(): void {
    const id = this.currentBootId();
    if (id === null) return;
    try {
      replaceFile(this.root, BOOT_ID_FILE, id);
    } catch (e) {
      throw ioError(e, `cannot stamp the boot id in ${quote(this.root)}`);
    }
  }

  private currentBootId(): string | null {
    return this.host.bootId();
  }

  private requireEntry(device: string): string {
    const dir = under(this.root, device);
    const st = lstatOrNull(dir);
    if (st === null) throw notRegistered(device);
    requireDir(st, dir, 'entry', { device });
    return dir;
  }

  private currentOwner(dir: string, device: string): string | null {
    return ownerOnDisk(readAttrFile(under(dir, 'owner'), { device, attr: 'owner' }), device);
  }

  /**
   * Files are read by path, so an entry replaced (rename) while we read it could mix two
   * generations. The directory's identity before and after tells: if it changed, read again.
   * `known`: the caller's lstat of `dir`, taken just before, so the first attempt's "before".
   */
  private readEntryIn(dir: string, device: string, facts: LiveFacts, known?: fs.Stats): Entry {
    let first: fs.Stats | null = known ?? null;
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = first ?? lstatOrNull(dir);
      first = null;
      if (before === null) throw vanished(device);
      let entry: Entry | null;
      try {
        entry = this.readEntryOnce(dir, device, facts);
      } catch (e) {
        if (!isNvmfError(e)) throw e;
        const after = lstatOrNull(dir);
        if (after !== null && sameDir(before, after)) throw e;
        continue;
      }
      const after = lstatOrNull(dir);
      if (after === null) throw vanished(device);
      if (sameDir(before, after)) return entry;
    }
    throw new NvmfError('EIO', `${device} kept being replaced while it was read; retry`, { device });
  }

  private readEntryOnce(dir: string, device: string, facts: LiveFacts): Entry {
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      // On a file system without d_type, Node lstats each name itself, and a name removed
      // in between fails the whole readdir with ENOENT: gone only if the entry is.
      if (errnoOf(e) === 'ENOENT' && lstatOrNull(dir) === null) throw vanished(device);
      throw ioError(e, `cannot read entry ${device}`, { device });
    }
    const names: DirName[] = new Array<DirName>(dirents.length);
    for (let i = 0; i < dirents.length; i++)
      names[i] = { name: dirents[i]!.name, kind: direntKind(dirents[i]!) };
    return entryFrom(device, dir, names, facts);
  }
}

/** The entries among a root's dirents, in natural order. */
function inNaturalOrder(dirents: fs.Dirent[]): fs.Dirent[] {
  return dirents
    .filter((d) => !isInternalName(d.name) && isDevice(d.name))
    .sort((a, b) => naturalCompare(a.name, b.name));
}

/**
 * Test seam: called inside create() after the lstat that judged the entry's name and
 * before the rename that acts on it, so a test can change the registry in that window.
 * Not part of the public API.
 */
export const publishHooks: { beforeRename?: (device: string, attempt: number) => void } = {};

/** How often create() judges the entry's name again after a lock-less writer changed it. */
const PUBLISH_ATTEMPTS = 16;
/** The failures of publish() that a lock-less writer's change explains. */
const PUBLISH_RACES: ReadonlySet<string> = new Set(['ENOENT', 'ENOTEMPTY', 'EEXIST']);

/**
 * Replace the entry at `dir` by the one built at `tmp`. renameat2(RENAME_EXCHANGE) swaps the
 * two in one step, so the entry's name holds the old entry and then the new one, never
 * nothing, even for readers that take no lock; the old entry, now under the temp name
 * (internal, never listed), is purged.
 * Fallback where the file system cannot exchange (EINVAL) or this process cannot call
 * renameat2 (ENOSYS): the old entry is renamed to a trash name, then the new one into
 * place. That still never shows a partial entry, and writers serialised by the device lock
 * never see the gap, but a lock-less reader may find the entry absent between the two
 * renames.
 */
function replaceEntryDir(root: string, device: string, tmp: string, dir: string): void {
  try {
    exchangePaths(tmp, dir);
    removeQuietly(tmp);
    return;
  } catch (e) {
    const code = errnoOf(e);
    if (code !== 'EINVAL' && code !== 'ENOSYS') throw e;
  }
  const trash = under(root, `.${device}.trash.${uniqueSuffix()}`);
  fs.renameSync(dir, trash);
  try {
    fs.renameSync(tmp, dir);
  } finally {
    removeQuietly(trash);
  }
}

/** What the torn-read check compares: which directory, and its last change. */
interface DirIdentity {
  readonly ino: number;
  readonly dev: number;
  readonly ctimeMs: number;
}

function sameDir(a: DirIdentity, b: DirIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.ctimeMs === b.ctimeMs;
}

/** An `expect` option: undefined (no precondition), null (unowned) or an owner. */
function checkExpect(v: unknown): string | null | undefined {
  return v === undefined || v === null ? v : checkOwner(v);
}

const OPTION_KEYS = ['roots', 'env', 'audit', 'host', 'now', 'lockTimeoutMs'] as const;

/** Registry.open's options, type-checked and read once. */
function checkRegistryOptions(opts: unknown): RegistryOptions {
  const what = 'Registry.open';
  const o = checkOptions(opts, what, OPTION_KEYS);
  // Required, fail safe: without an auditor every change would go unrecorded, silently.
  if (o.audit === undefined)
    throw invalidOption(what, 'audit is required: pass defaultAuditor(), or an Auditor of your own');
  const record = checkOptions(o.audit, `${what} audit`, ['record']).record;
  if (typeof record !== 'function')
    throw invalidOption(
      what,
      `audit must be an Auditor (an object with a record function), got ${describe(o.audit)}`,
    );
  const out: RegistryOptions = { audit: o.audit as Auditor };
  if (o.roots !== undefined) out.roots = checkRoots(o.roots, what);
  if (o.env !== undefined) {
    const e = checkOptions(o.env, `${what} env`, ENV_KEYS);
    const env: Record<string, string> = {};
    for (const k of ENV_KEYS) {
      const v = checkOptionalString(e[k], what, `env.${k}`);
      if (v !== undefined) env[k] = v;
    }
    out.env = env;
  }
  if (o.host !== undefined) {
    const h = checkRecord(o.host, `${what} host`, [
      'deviceNodeExists',
      'ueventSeqnum',
      'bootId',
      'liveController',
    ]);
    checkOptionalFunction(h.liveController, what, 'host.liveController');
    for (const f of ['deviceNodeExists', 'ueventSeqnum', 'bootId'] as const) {
      if (typeof h[f] !== 'function')
        throw invalidOption(
          what,
          `host must be HostFacts (a Kernel): ${f} is ${describe(h[f])}, not a function`,
        );
    }
    out.host = o.host as HostFacts;
  }
  const now = checkOptionalFunction<() => number>(o.now, what, 'now');
  if (now !== undefined) out.now = now;
  const lockTimeoutMs = checkOptionalNumber(o.lockTimeoutMs, what, 'lockTimeoutMs');
  if (lockTimeoutMs !== undefined) out.lockTimeoutMs = lockTimeoutMs;
  return out;
}

/**
 * An `expect` not met. The message names no flag: each CLI command adds the one it has
 * (`--force`), a library caller passes `force: true`.
 */
function conflict(device: string, current: OwnershipVerdict, expected: string | null): NvmfError {
  const exp = expected === null ? 'unowned' : `owned by ${quote(expected)}`;
  return new NvmfError('EOWNER_CONFLICT', `${device} is ${verdictWords(current)}, expected ${exp}`, {
    device,
    owner: verdictOwner(current),
    verdict: current.kind,
    expected,
  });
}

/** Whether a verdict meets an `expect`: null = counts as unowned, a name = owned by it. */
function verdictIs(v: OwnershipVerdict, expect: string | null): boolean {
  return expect === null ? countsAsUnowned(v) : v.kind === 'owned' && v.owner === expect;
}

function notRegistered(device: string): NvmfError {
  return new NvmfError(
    'ENOT_REGISTERED',
    `${device} has no registry entry; it is created when the controller is connected or claimed`,
    { device },
  );
}

function controllerGone(device: string): NvmfError {
  return new NvmfError(
    'ENO_CONTROLLER',
    `${device} does not exist; only a live controller can be claimed (list them with "nvmf list")`,
    { device },
  );
}

/** The identity attribute files of an identity: name and value. */
function identityFiles(identity: ControllerIdentity): [string, string][] {
  const out: [string, string][] = [];
  for (const f of IDENTITY_FIELDS) {
    const v = identity[f];
    if (v !== undefined && valueProblem(v) === null) out.push([identityAttr(f), v]);
  }
  return out;
}

/** Record `identity` in an existing entry (caller holds the lock); subsystem last, so a torn write records none. */
function writeIdentity(dir: string, identity: ControllerIdentity): void {
  const files = identityFiles(identity);
  const last = identityAttr('subsysnqn');
  for (const [name, v] of files) if (name !== last) replaceFile(dir, name, v);
  for (const [name, v] of files) if (name === last) replaceFile(dir, name, v);
}

/** A caller's controller listing, checked by shape and read once: device and identity fields. */
function checkListed(v: unknown, what: string): ListedController[] {
  let items: unknown[];
  try {
    if (!Array.isArray(v)) throw new Error();
    items = [...(v as unknown[])];
  } catch {
    throw invalidOption(what, `controllers must be an array of controllers, got ${describe(v)}`);
  }
  return items.map((item) => {
    const c = checkRecord(item, `${what} controller`, [
      'device',
      'transport',
      'subsysnqn',
      'hostnqn',
      'address',
    ]);
    const a = checkRecord(c.address, `${what} controller address`, [
      'traddr',
      'trsvcid',
      'host_traddr',
      'host_iface',
    ]);
    const text = (x: unknown, name: string, optional: boolean): void => {
      if (typeof x === 'string' || (optional && (x === undefined || x === null))) return;
      throw invalidOption(what, `controller ${name} must be a string, got ${describe(x)}`);
    };
    text(c.device, 'device', false);
    text(c.transport, 'transport', false);
    text(c.subsysnqn, 'subsysnqn', false);
    text(c.hostnqn, 'hostnqn', true);
    for (const k of ['traddr', 'trsvcid', 'host_traddr', 'host_iface'] as const)
      text(a[k], `address.${k}`, true);
    return {
      device: c.device as string,
      transport: c.transport as string,
      subsysnqn: c.subsysnqn as string,
      hostnqn: (c.hostnqn as string | null | undefined) ?? null,
      address: {
        ...(a.traddr !== undefined && a.traddr !== null ? { traddr: a.traddr as string } : {}),
        ...(a.trsvcid !== undefined && a.trsvcid !== null ? { trsvcid: a.trsvcid as string } : {}),
        ...(a.host_traddr !== undefined && a.host_traddr !== null
          ? { host_traddr: a.host_traddr as string }
          : {}),
        ...(a.host_iface !== undefined && a.host_iface !== null
          ? { host_iface: a.host_iface as string }
          : {}),
      },
    };
  });
}

/** The live-controller facts of a listing the caller just took, judged at `now`. */
function factsOf(controllers: readonly ListedController[], now: number): LiveFacts {
  const byDevice = new Map<string, LiveController>();
  for (const c of controllers) byDevice.set(c.device, { identity: identityOf(c) });
  return { controller: (d) => byDevice.get(d) ?? null, now };
}

function direntKind(d: fs.Dirent): FileKind {
  return d.isFile()
    ? 'file'
    : d.isDirectory()
      ? 'directory'
      : d.isSymbolicLink()
        ? 'symlink'
        : d.isFIFO()
          ? 'fifo'
          : 'other';
}
