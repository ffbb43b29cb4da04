import fs from 'node:fs';
import path from 'node:path';
import { checkRecord, checkString } from '../args.js';
import { describe, errnoOf, NvmfError } from '../errors.js';
import { instanceOf, isBlockName, isDevice, naturalCompare } from '../nvme/names.js';
import { DISCOVERY_NQN, NQN_MAX_BYTES } from '../nvme/nqn.js';
import { identityOf } from '../nvme/target.js';
import { decodeDiskText } from '../text.js';
import type {
  ControllerAddress,
  ControllerFilter,
  ControllerInfo,
  LiveControllerFacts,
  SubsystemType,
} from './port.js';

/**
 * Readers of the kernel's NVMe sysfs and dev trees, shared by the linux and sim adapters (the
 * sim materialises the same layout). Junk is expected: a controller can vanish between
 * readdir and read, and tests plant garbage. Listing skips what it cannot read; single-device
 * reads return null for a missing controller and throw only for bad arguments.
 */

/** sysfs attributes are at most a page. */
const ATTR_MAX = 4096;

export function assertDevice(device: string): number {
  if (!isDevice(device)) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${describe(device)} is not a controller name; expected nvmeN (e.g. nvme3)`,
      typeof device === 'string' ? { device } : {},
    );
  }
  return instanceOf(device);
}

export function assertBlockName(name: string): void {
  if (!isBlockName(name)) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${describe(name)} is not an NVMe block device name; expected e.g. nvme3n1`,
      typeof name === 'string' ? { device: name } : {},
    );
  }
}

/** Parse the `address` attribute: comma-separated `key=value` pairs; anything else (pcie BDF) gives {}. */
export function parseAddress(raw: string): ControllerAddress {
  const out: ControllerAddress = {};
  const text = raw.replace(/\0+$/, '').trim();
  if (text === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (
      key === 'traddr' ||
      key === 'trsvcid' ||
      key === 'host_traddr' ||
      key === 'host_iface' ||
      key === 'src_addr'
    ) {
      out[key] = value;
    }
  }
  return out;
}

export function controllerDir(sysfs: string, device: string): string {
  return path.join(sysfs, 'class', 'nvme', device);
}

/**
 * One attribute, trimmed; null when missing or unreadable (vanished controller, ELOOP, EISDIR, ...).
 * Synchronous on purpose: sysfs attributes are served from kernel memory without I/O, and a
 * thread-pool round trip per attribute made listing 1000 controllers take seconds. Callers
 * yield to the event loop between controllers.
 */
export function readAttrSync(dir: string, name: string): string | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(`${dir}/${name}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(ATTR_MAX);
    const n = fs.readSync(fd, buf, 0, ATTR_MAX, 0);
    // bytes that are not UTF-8 (a peer's NQN) kept visible as \xNN in text output (text.ts)
    return decodeDiskText(buf, 0, n).replace(/\0+$/, '').trim();
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function printable(v: string | null, max = 256): string | null {
  if (v === null || v.length > max || !/^[\x20-\x7e]*$/.test(v)) return null;
  return v;
}

function subsystemTypeOf(
  sysfs: string,
  device: string,
  subsysnqn: string,
  cntrltype: string | null,
): SubsystemType {
  if (subsysnqn === DISCOVERY_NQN) return 'discovery';
  if (cntrltype === 'discovery') return 'discovery';
  if (cntrltype === 'io' || cntrltype === 'admin') return 'nvm';
  const subsys = subsystemOf(sysfs, device);
  if (subsys !== null) {
    const t = readAttrSync(path.join(sysfs, 'class', 'nvme-subsystem', subsys), 'subsystype');
    if (t === 'discovery') return 'discovery';
    if (t === 'nvm') return 'nvm';
  }
  return 'unknown';
}

/**
 * The `nvme-subsysN` a controller belongs to: the subsystem directory that links the
 * controller by name. Null when none does (old kernels, vanished controller).
 */
export function subsystemOf(sysfs: string, device: string): string | null {
  const base = path.join(sysfs, 'class', 'nvme-subsystem');
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return null;
  }
  for (const s of names.filter((n) => /^nvme-subsys\d+$/.test(n)).sort(naturalCompare)) {
    if (exists(path.join(base, s, device))) return s;
  }
  return null;
}

/** A controller's `subsysnqn` attribute as ControllerInfo carries it ('' when unreadable or junk). */
const subsysnqnText = (raw: string | null): string => printable(raw, NQN_MAX_BYTES) ?? '';

function subsysnqnOf(dir: string): string {
  return subsysnqnText(readAttrSync(dir, 'subsysnqn'));
}

/** The attributes a ControllerInfo is made of, in the order readControllerSync reads them. */
const CONTROLLER_ATTRS = [
  'transport',
  'address',
  'subsysnqn',
  'hostnqn',
  'hostid',
  'state',
  'cntlid',
  'cntrltype',
] as const;

/**
 * One controller, or null if it does not exist or is too broken to describe (no transport).
 * Synchronous, like readAttrSync: a missing directory shows as an unreadable transport (ENOENT
 * or ENOTDIR), so there is no separate existence check to race with.
 */
export function readControllerSync(sysfs: string, device: string): ControllerInfo | null {
  const instance = assertDevice(device);
  const dir = controllerDir(sysfs, device);
  const [transport, rawAddress, subsysnqn, hostnqn, hostid, state, cntlid, cntrltype] = CONTROLLER_ATTRS.map(
    (a) => readAttrSync(dir, a),
  );
  const tr = printable(transport ?? null, 32);
  if (tr === null || !/^[a-z0-9_-]+$/.test(tr)) return null;
  const nqn = subsysnqnText(subsysnqn ?? null);
  const cid = cntlid !== null && cntlid !== undefined && /^\d{1,5}$/.test(cntlid) ? Number(cntlid) : null;
  const addr = printable(rawAddress ?? null, 1024) ?? '';
  const st = printable(state ?? null, 32);
  return {
    device,
    instance,
    transport: tr,
    fabrics: tr !== 'pcie',
    address: tr === 'pcie' ? {} : parseAddress(addr),
    rawAddress: addr,
    subsysnqn: nqn,
    hostnqn: printable(hostnqn ?? null, NQN_MAX_BYTES),
    hostid: printable(hostid ?? null, 64),
    // 6.1 names DELETING_NOIO "deleting (no IO)" (measured during a kernel-initiated removal).
    state: st !== null && /^[a-z_-]+( \(no IO\))?$/.test(st) ? st : 'unknown',
    cntlid: cid,
    subsystemType: subsystemTypeOf(sysfs, device, nqn, printable(cntrltype ?? null, 32)),
  };
}

/** readControllerSync for async callers. */
export async function readController(sysfs: string, device: string): Promise<ControllerInfo | null> {
  return readControllerSync(sysfs, device);
}

/**
 * Whether controller `device` exists under `<sysfs>/class/nvme`, and its identity (null when
 * its transport or subsystem cannot be read, e.g. while it vanishes); null when it does not
 * exist. Synchronous: the registry judges liveness inline, under its locks.
 */
export function readLiveController(sysfs: string, device: string): LiveControllerFacts | null {
  assertDevice(device);
  const dir = controllerDir(sysfs, device);
  try {
    if (!fs.statSync(dir).isDirectory()) return null;
  } catch {
    return null;
  }
  const tr = printable(readAttrSync(dir, 'transport'), 32);
  const nqn = printable(readAttrSync(dir, 'subsysnqn'), NQN_MAX_BYTES);
  if (tr === null || !/^[a-z0-9_-]+$/.test(tr) || nqn === null || nqn === '') return { identity: null };
  const raw = tr === 'pcie' ? '' : (printable(readAttrSync(dir, 'address'), 1024) ?? '');
  return {
    identity: identityOf({
      transport: tr,
      subsysnqn: nqn,
      hostnqn: printable(readAttrSync(dir, 'hostnqn'), NQN_MAX_BYTES),
      address: parseAddress(raw),
    }),
  };
}

/**
 * Every controller under `<sysfs>/class/nvme`, natural order; unreadable entries are skipped.
 * With `only`, those whose subsystem NQN (as readControllerSync reads it) is `only.subsysnqn`:
 * one attribute of each other controller is read, not eight, so a connect that looks for
 * its target's controller costs one read per controller of the host.
 */
export async function listControllers(sysfs: string, only?: ControllerFilter): Promise<ControllerInfo[]> {
  const nqn =
    only === undefined
      ? undefined
      : checkString(
          checkRecord(only, 'listControllers', ['subsysnqn']).subsysnqn,
          'listControllers',
          'subsysnqn',
        );
  const base = path.join(sysfs, 'class', 'nvme');
  let names: string[];
  try {
    names = await fs.promises.readdir(base);
  } catch (e) {
    // No nvme class at all: the nvme core module is not loaded, so there are no controllers.
    if (errnoOf(e) === 'ENOENT') return [];
    throw new NvmfError('EKERNEL', `cannot list NVMe controllers in ${base}: ${errnoOf(e) ?? String(e)}`, {
      path: base,
      errno: errnoOf(e),
    });
  }
  let devices = names.filter(isDevice);
  if (nqn !== undefined) devices = devices.filter((d) => subsysnqnOf(controllerDir(sysfs, d)) === nqn);
  devices.sort(naturalCompare);
  const out: ControllerInfo[] = [];
  for (const [i, d] of devices.entries()) {
    const c = readControllerSync(sysfs, d);
    if (c !== null) out.push(c);
    if (i % 16 === 15) await yieldToLoop();
  }
  return out;
}

/**
 * Block devices of a controller's namespaces. With native multipath the controller holds
 * hidden per-path disks `nvme<S>c<C>n<H>` and the usable device is the head `nvme<S>n<H>`
 * (S = subsystem instance, H = head instance, the kernel's naming rule); without it the
 * controller holds `nvme<C>n<H>` directly.
 */
export async function namespaces(sysfs: string, device: string): Promise<string[]> {
  const instance = assertDevice(device);
  const dir = controllerDir(sysfs, device);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR' || errnoOf(e) === 'ELOOP') {
      throw new NvmfError('ENO_CONTROLLER', `controller ${device} does not exist (no ${dir})`, { device });
    }
    throw new NvmfError('EKERNEL', `cannot read ${dir}: ${errnoOf(e) ?? String(e)}`, {
      device,
      errno: errnoOf(e),
    });
  }
  const out = new Set<string>();
  for (const n of names) {
    const path_ = /^nvme(\d+)c(\d+)n(\d+)$/.exec(n);
    if (path_ && Number(path_[2]) === instance) {
      out.add(`nvme${path_[1]}n${path_[3]}`);
      continue;
    }
    const direct = /^nvme(\d+)n(\d+)$/.exec(n);
    if (direct && Number(direct[1]) === instance) out.add(n);
  }
  return [...out].sort(naturalCompare);
}

/** `<sysfs>/kernel/uevent_seqnum`, read synchronously and validated as a decimal. */
export function readUeventSeqnum(sysfs: string): number {
  const p = path.join(sysfs, 'kernel', 'uevent_seqnum');
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8').trim();
  } catch (e) {
    throw new NvmfError('EKERNEL', `cannot read ${p}: ${errnoOf(e) ?? String(e)}; is sysfs mounted there?`, {
      path: p,
      errno: errnoOf(e),
    });
  }
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new NvmfError('EKERNEL', `${p} holds "${text.slice(0, 40)}", not a decimal seqnum`, { path: p });
  }
  return Number(text);
}

function exists(p: string): boolean {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

export function deviceNodeExists(dev: string, device: string): boolean {
  assertDevice(device);
  return exists(path.join(dev, device));
}

export function blockDeviceExists(dev: string, name: string): boolean {
  assertBlockName(name);
  return exists(path.join(dev, name));
}
