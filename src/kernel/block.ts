import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { instanceOf, isDevice, naturalCompare } from '../nvme/names.js';
import type { ControllerInfo } from './port.js';
import { controllerDir, listControllers, readAttrSync, readControllerSync } from './sysfs.js';

/**
 * The block side of the host snapshot (DESIGN §4a), read from sysfs and procfs as Linux lays
 * them out. The linux and sim adapters share it: the sim materialises the same files.
 *
 * - Namespaces, from the names in `/sys/block`: with native multipath each controller C has
 *   a hidden path disk `nvme<S>c<C>n<H>` and the usable disk is the head `nvme<S>n<H>` of
 *   subsystem S (the kernel's naming rule, nvme_alloc_ns, the same on 6.1 and later; 6.15
 *   also links the paths under the head's `multipath/` directory, not needed here). Without
 *   multipath controller C holds its own `nvme<C>n<H>`. The re-check of a few controllers
 *   takes the same names from their own directories instead (readHostSnapshotOf).
 * - Mounts from `<proc>/self/mountinfo`, active swap from `<proc>/swaps`. Each used device is
 *   found by its major:minor (`/sys/dev/block/MAJ:MIN`; a filesystem on an anonymous device,
 *   such as btrfs, by its `/dev/...` source), then followed down to the NVMe disks: a
 *   partition to its disk (its directory's parent), a holder (dm, md, LVM) through
 *   `slaves/`, recursively. `slaves/` is the kernel's other half of `holders/`
 *   (bd_link_disk_holder makes both), so this finds every holder chain from a use to a disk
 *   while reading only what is used: a host of 4000 disks and 100 mounts reads 100 chains,
 *   not 4000 disk directories.
 *
 * What cannot be read is listed in `unreadable` and never read as "nothing there": the
 * in-use guard then treats every controller as in use.
 */

/** One line of mountinfo that matters here. */
export interface MountFact {
  /** `major:minor` of the mounted filesystem's device. */
  dev: string;
  mountPoint: string;
  /** The mount source (`/dev/nvme1n1`, `tmpfs`, ...). */
  source: string;
  fstype: string;
  /** The block device it is on (`nvme1n1p1`, `dm-0`); null when it is on none (tmpfs, nfs). */
  device: string | null;
}

/** One active swap area: its path and, for a block device, the device's name. */
export interface SwapFact {
  path: string;
  /** `nvme1n1p2` for `/dev/nvme1n1p2`; null for a swap file (its filesystem is a mount). */
  device: string | null;
}

/** A block device on the way from a use down to the NVMe disks. */
export interface BlockFact {
  name: string;
  /** `major:minor`, null when unreadable. */
  dev: string | null;
  /** The disk a partition belongs to; null for a whole device. */
  partitionOf: string | null;
  /** What it holds (`slaves/`: a holder's lower devices), natural order. */
  slaves: string[];
}

/** A usable namespace disk: a multipath head, or a controller's own disk without multipath. */
export interface DiskFact {
  name: string;
  /** Controllers with a path to it (without multipath: the one controller). */
  paths: string[];
}

export interface HostSnapshot {
  controllers: ControllerInfo[];
  /** Usable disks each controller serves, by controller. */
  namespaces: Record<string, string[]>;
  disks: Record<string, DiskFact>;
  /** The block devices used (mounted, swap) and those below them, by name. */
  blocks: Record<string, BlockFact>;
  mounts: MountFact[];
  swaps: SwapFact[];
  /** What could not be read, e.g. `mounts (/proc/self/mountinfo: EACCES)`; empty when all was. */
  unreadable: string[];
}

export interface BlockRoots {
  sysfs: string;
  dev: string;
  proc: string;
}

/** Undo the octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash) of procfs. */
export function unescapeProc(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse `/proc/self/mountinfo`; lines that do not parse are skipped. */
export function parseMountinfo(text: string): MountFact[] {
  const out: MountFact[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const head = line.slice(0, sep).split(' ');
    const tail = line.slice(sep + 3).split(' ');
    const dev = head[2];
    const mountPoint = head[4];
    if (dev === undefined || mountPoint === undefined || !/^\d+:\d+$/.test(dev)) continue;
    out.push({
      dev,
      mountPoint: unescapeProc(mountPoint),
      fstype: unescapeProc(tail[0] ?? ''),
      source: unescapeProc(tail[1] ?? ''),
      device: null,
    });
  }
  return out;
}

/** Parse `/proc/swaps` (a header line, then one area per line). */
export function parseSwaps(text: string): SwapFact[] {
  const out: SwapFact[] = [];
  for (const line of text.split('\n').slice(1)) {
    const p = line.split(/[ \t]+/)[0];
    if (p === undefined || p === '') continue;
    const file = unescapeProc(p);
    const m = /^\/dev\/([^/]+)$/.exec(file);
    out.push({ path: file, device: m ? (m[1] as string) : null });
  }
  return out;
}

function readText(file: string, what: string, unreadable: string[]): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    unreadable.push(`${what} (${file}: ${errnoOf(e) ?? String(e)})`);
    return null;
  }
}

const PATH_DISK = /^nvme(\d+)c(\d+)n(\d+)$/;
const OWN_DISK = /^nvme(\d+)n(\d+)$/;

/** Names of disks (`/sys/block` entries) and what could not be read while finding them. */
export interface DiskNames {
  names: readonly string[];
  unreadable: readonly string[];
}

/**
 * Every disk of the host: one listing of /sys/block names them all, hidden path disks
 * included (measured on 6.1: /sys/block/nvme0c0n1), one getdents instead of a directory read
 * per controller.
 */
function allDisks(roots: BlockRoots): DiskNames {
  try {
    return { names: fs.readdirSync(path.join(roots.sysfs, 'block')), unreadable: [] };
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return { names: [], unreadable: [] };
    return { names: [], unreadable: [`block devices (${errnoOf(e) ?? String(e)})`] };
  }
}

/**
 * Read the block side for `controllers` (as the kernel listed them), their disks found among
 * `listed` (by default every disk of the host). `unreadable` collects what could not be
 * read; a controller or device that vanished meanwhile is simply absent.
 */
export function readBlockSide(
  roots: BlockRoots,
  controllers: readonly ControllerInfo[],
  listed: DiskNames = allDisks(roots),
): HostSnapshot {
  const unreadable: string[] = [...listed.unreadable];
  const namespaces: Record<string, string[]> = {};
  const disks: Record<string, DiskFact> = {};
  const byInstance = new Map(controllers.map((c) => [c.instance, c.device]));
  for (const c of controllers) namespaces[c.device] = [];
  const names = listed.names;
  const serve = (disk: string, device: string): void => {
    (namespaces[device] as string[]).push(disk);
    const d = disks[disk] ?? (disks[disk] = { name: disk, paths: [] });
    d.paths.push(device);
  };
  const heads = new Set<string>();
  for (const n of names) {
    const p = PATH_DISK.exec(n);
    if (!p) continue;
    const head = `nvme${p[1]}n${p[3]}`;
    heads.add(head);
    const device = byInstance.get(Number(p[2]));
    if (device !== undefined) serve(head, device);
  }
  // A disk named like a head with no path disk is a controller's own disk (no multipath). A
  // head left without paths (6.16's delayed removal) reads as its subsystem's first
  // controller's disk: that controller is then judged in use for it, the safe side.
  for (const n of names) {
    const o = OWN_DISK.exec(n);
    if (!o || heads.has(n)) continue;
    const device = byInstance.get(Number(o[1]));
    if (device !== undefined) serve(n, device);
  }
  for (const list of Object.values(namespaces)) list.sort(naturalCompare);
  for (const d of Object.values(disks)) d.paths.sort(naturalCompare);

  const blocks: Record<string, BlockFact> = {};
  const byDev = path.join(roots.sysfs, 'dev', 'block');
  const classBlock = path.join(roots.sysfs, 'class', 'block');
  /** Read block device `name` at sysfs directory `dir`, then what it holds, recursively. */
  const visit = (name: string, dir: string): void => {
    if (blocks[name] !== undefined) return;
    const b: BlockFact = { name, dev: readAttrSync(dir, 'dev'), partitionOf: null, slaves: [] };
    blocks[name] = b;
    if (disks[name] !== undefined) return;
    if (fs.existsSync(path.join(dir, 'partition'))) {
      b.partitionOf = path.basename(path.dirname(dir));
      return;
    }
    let slaves: string[];
    try {
      slaves = fs.readdirSync(path.join(dir, 'slaves'));
    } catch (e) {
      // a device without slaves/ (a partition, a plain disk) holds nothing
      if (errnoOf(e) !== 'ENOENT') unreadable.push(`holders below ${name} (${errnoOf(e) ?? String(e)})`);
      return;
    }
    b.slaves = slaves.sort(naturalCompare);
    for (const sl of b.slaves) {
      const d = realDir(path.join(dir, 'slaves', sl));
      if (d !== null) visit(sl, d);
    }
  };
  /** The block device a use names, read with what lies below it; null when it is none. */
  const usedDevice = (link: string): string | null => {
    const d = realDir(link);
    if (d === null) return null;
    const name = path.basename(d);
    visit(name, d);
    return name;
  };

  const mountinfo = readText(path.join(roots.proc, 'self', 'mountinfo'), 'mounts', unreadable);
  const swapsText = readText(path.join(roots.proc, 'swaps'), 'swaps', unreadable);
  const mounts = mountinfo === null ? [] : parseMountinfo(mountinfo);
  for (const m of mounts) {
    if (!m.dev.startsWith('0:')) m.device = usedDevice(path.join(byDev, m.dev));
    else if (m.source.startsWith('/dev/')) {
      // An anonymous device (btrfs, overlay) says nothing; its /dev source names the device.
      const name = devName(roots.dev, m.source);
      if (name !== null) m.device = usedDevice(path.join(classBlock, name));
    }
  }
  // Without /sys/dev/block no mount can be matched to a disk: unknown, not "none mounted".
  if (Object.keys(disks).length > 0 && mounts.some((m) => !m.dev.startsWith('0:') && m.device === null)) {
    if (!fs.existsSync(byDev)) unreadable.push(`block device numbers (${byDev} is missing)`);
  }
  const swaps = swapsText === null ? [] : parseSwaps(swapsText);
  for (const w of swaps) {
    if (w.device !== null && usedDevice(path.join(classBlock, w.device)) === null) w.device = null;
  }
  return { controllers: [...controllers], namespaces, disks, blocks, mounts, swaps, unreadable };
}

/** The real directory a sysfs link leads to; null when it leads nowhere. */
function realDir(link: string): string | null {
  try {
    return fs.realpathSync.native(link);
  } catch {
    return null;
  }
}

/** The block device a `/dev/...` path names (through `/dev/mapper` links), or null. */
function devName(devRoot: string, source: string): string | null {
  const rel = source.slice('/dev/'.length);
  try {
    return path.basename(fs.realpathSync.native(path.join(devRoot, rel)));
  } catch {
    return rel.includes('/') ? null : rel;
  }
}

/** The whole host: every controller, then the block side of them. */
export async function readHostSnapshot(roots: BlockRoots): Promise<HostSnapshot> {
  return readBlockSide(roots, await listControllers(roots.sysfs));
}

/**
 * The part of the host that decides whether `devices` are in use: those controllers, the
 * other controllers of the subsystems their multipath heads belong to (the heads' other
 * paths), their disks, plus mounts and swap. What an execution re-checks under the device
 * lock, so it reads only these controllers' part of the host, whatever the host's size:
 * their disks are the entries of their own directories (a path disk `nvme<S>c<C>n<H>` or an
 * own disk `nvme<C>n<H>` lives under controller C), not a listing of every disk. For the
 * same verdict as the whole-host read, each asked-about controller N's subsystem
 * `nvme-subsysN` is read too: a head `nvme<N>n<H>` of it left without paths is controller
 * N's disk there (readBlockSide).
 */
export async function readHostSnapshotOf(
  roots: BlockRoots,
  devices: readonly string[],
): Promise<HostSnapshot> {
  const unreadable: string[] = [];
  const wanted = new Set<string>();
  const names = new Set<string>();
  const subsystems = new Set<string>();
  const entries = (dir: string, what: string): string[] => {
    try {
      return fs.readdirSync(dir);
    } catch (e) {
      // gone meanwhile: nothing there; anything else is not "nothing there"
      const code = errnoOf(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') unreadable.push(`${what} (${dir}: ${code ?? String(e)})`);
      return [];
    }
  };
  /** Subsystem `s`: its heads, and its controllers with their disks. */
  const subsystem = (s: string): void => {
    if (subsystems.has(s)) return;
    subsystems.add(s);
    const dir = path.join(roots.sysfs, 'class', 'nvme-subsystem', `nvme-subsys${s}`);
    for (const n of entries(dir, `subsystem nvme-subsys${s}`)) {
      if (isDevice(n)) controller(n);
      else if (OWN_DISK.test(n)) names.add(n);
    }
  };
  /** Controller `d`: its disks, and the subsystems of its paths. */
  const controller = (d: string): void => {
    if (wanted.has(d)) return;
    wanted.add(d);
    for (const n of entries(controllerDir(roots.sysfs, d), `disks of ${d}`)) {
      const p = PATH_DISK.exec(n);
      if (p) {
        names.add(n);
        subsystem(p[1] as string);
      } else if (OWN_DISK.test(n)) names.add(n);
    }
  };
  for (const d of devices) {
    controller(d);
    subsystem(String(instanceOf(d)));
  }
  const controllers: ControllerInfo[] = [];
  for (const d of [...wanted].sort(naturalCompare)) {
    const c = readControllerSync(roots.sysfs, d);
    if (c !== null) controllers.push(c);
  }
  return readBlockSide(roots, controllers, { names: [...names], unreadable });
}
