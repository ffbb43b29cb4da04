import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { isDevice, naturalCompare } from '../nvme/names.js';
import type { ControllerInfo } from './port.js';
import { controllerDir, listControllers, readAttrSync, readController } from './sysfs.js';

/**
 * The block side of the host snapshot (DESIGN §4a), read from sysfs and procfs as Linux lays
 * them out. The linux and sim adapters share it: the sim materialises the same files.
 *
 * - Namespaces: a controller's directory holds its disks. With native multipath these are
 *   hidden path disks `nvme<S>c<C>n<H>` and the usable disk is the head `nvme<S>n<H>` of
 *   subsystem S (the kernel's naming rule, the same on 6.1 and later; 6.15 also links the
 *   paths under the head's `multipath/` directory, which is not needed here). Without
 *   multipath the controller holds its own `nvme<C>n<H>`.
 * - Every usable disk, partition and holder is at `/sys/class/block/<name>` with `dev`
 *   (major:minor) and `holders/` (dm, md, LVM above it; followed recursively); partitions
 *   are the disk directory's `<disk>p<N>` entries. Hidden path disks have no partitions.
 * - Mounts from `<proc>/self/mountinfo` (matched by major:minor; a filesystem with an
 *   anonymous device, such as btrfs, by its `/dev/...` source), active swap from
 *   `<proc>/swaps` (by device path).
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
}

/** One active swap area: its path and, for a block device, the device's name. */
export interface SwapFact {
  path: string;
  /** `nvme1n1p2` for `/dev/nvme1n1p2`; null for a swap file (its filesystem is a mount). */
  device: string | null;
}

/** A block device reached from a namespace: a disk, a partition or a holder. */
export interface BlockFact {
  name: string;
  /** `major:minor`, null when unreadable. */
  dev: string | null;
  /** Partitions (disks only), natural order. */
  partitions: string[];
  /** Devices holding this one (`holders/`), natural order. */
  holders: string[];
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
  /** Every disk, partition and holder reached from the disks, by name. */
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

function readdir(dir: string): string[] | null {
  try {
    return fs.readdirSync(dir);
  } catch {
    return null;
  }
}

const PATH_DISK = /^nvme(\d+)c(\d+)n(\d+)$/;
const OWN_DISK = /^nvme(\d+)n(\d+)$/;

/**
 * Read the block side for `controllers` (as the kernel listed them). `unreadable` collects
 * what could not be read; a controller or disk that vanished meanwhile is simply absent.
 */
export function readBlockSide(roots: BlockRoots, controllers: readonly ControllerInfo[]): HostSnapshot {
  const unreadable: string[] = [];
  const namespaces: Record<string, string[]> = {};
  const disks: Record<string, DiskFact> = {};
  for (const c of controllers) {
    let names: string[];
    try {
      names = fs.readdirSync(controllerDir(roots.sysfs, c.device));
    } catch (e) {
      const errno = errnoOf(e);
      if (errno !== 'ENOENT' && errno !== 'ENOTDIR')
        unreadable.push(`namespaces of ${c.device} (${errno ?? String(e)})`);
      continue;
    }
    const mine: string[] = [];
    for (const n of names) {
      const p = PATH_DISK.exec(n);
      let disk: string | null = null;
      if (p) {
        if (Number(p[2]) === c.instance) disk = `nvme${p[1]}n${p[3]}`;
      } else {
        const o = OWN_DISK.exec(n);
        if (o && Number(o[1]) === c.instance) disk = n;
      }
      if (disk === null) continue;
      mine.push(disk);
      const d = disks[disk] ?? (disks[disk] = { name: disk, paths: [] });
      d.paths.push(c.device);
    }
    namespaces[c.device] = mine.sort(naturalCompare);
  }
  const blocks: Record<string, BlockFact> = {};
  const classBlock = path.join(roots.sysfs, 'class', 'block');
  /** Read `name` (at `dir`, default its class/block entry) and what holds it, recursively. */
  const visit = (name: string, dir: string, isDisk: boolean): void => {
    if (blocks[name] !== undefined) return;
    const entries = readdir(dir);
    if (entries === null) {
      // A holder or disk that is gone meanwhile is no use; one that is there but unreadable is unknown.
      if (fs.existsSync(dir)) unreadable.push(`block device ${name} (${dir})`);
      return;
    }
    const holders = readdir(path.join(dir, 'holders'));
    if (holders === null && entries.includes('holders')) unreadable.push(`holders of ${name}`);
    const partitions = isDisk
      ? entries.filter((e) => e.startsWith(`${name}p`) && /^\d+$/.test(e.slice(name.length + 1)))
      : [];
    const b: BlockFact = {
      name,
      dev: readAttrSync(dir, 'dev'),
      partitions: partitions.sort(naturalCompare),
      holders: (holders ?? []).sort(naturalCompare),
    };
    blocks[name] = b;
    for (const p of b.partitions) visit(p, path.join(dir, p), false);
    for (const h of b.holders) visit(h, path.join(classBlock, h), false);
  };
  for (const d of Object.keys(disks)) visit(d, path.join(classBlock, d), true);

  const mountinfo = readText(path.join(roots.proc, 'self', 'mountinfo'), 'mounts', unreadable);
  const swapsText = readText(path.join(roots.proc, 'swaps'), 'swaps', unreadable);
  const mounts = mountinfo === null ? [] : parseMountinfo(mountinfo);
  // An anonymous device (major 0: btrfs, overlay) says nothing; its /dev source names the device.
  for (const m of mounts) {
    if (!m.dev.startsWith('0:') || !m.source.startsWith('/dev/')) continue;
    const name = devName(roots.dev, m.source);
    const b = name === null ? undefined : blocks[name];
    if (b?.dev) m.dev = b.dev;
  }
  return {
    controllers: [...controllers],
    namespaces,
    disks,
    blocks,
    mounts,
    swaps: swapsText === null ? [] : parseSwaps(swapsText),
    unreadable,
  };
}

/** The block device a `/dev/...` path names (through `/dev/mapper` links), or null. */
function devName(devRoot: string, source: string): string | null {
  const rel = source.slice('/dev/'.length);
  try {
    return path.basename(fs.realpathSync(path.join(devRoot, rel)));
  } catch {
    return rel.includes('/') ? null : rel;
  }
}

/** The whole host: every controller, then the block side of them. */
export async function readHostSnapshot(roots: BlockRoots): Promise<HostSnapshot> {
  return readBlockSide(roots, await listControllers(roots.sysfs));
}

/**
 * The part of the host that decides whether `devices` are in use: those controllers and the
 * other controllers of the subsystems their multipath heads belong to (the heads' other
 * paths), plus mounts and swap. What an execution re-checks under the device lock.
 */
export async function readHostSnapshotOf(
  roots: BlockRoots,
  devices: readonly string[],
): Promise<HostSnapshot> {
  const wanted = new Set<string>();
  for (const d of devices) {
    wanted.add(d);
    for (const n of readdir(controllerDir(roots.sysfs, d)) ?? []) {
      const p = PATH_DISK.exec(n);
      if (!p) continue;
      const subsys = path.join(roots.sysfs, 'class', 'nvme-subsystem', `nvme-subsys${p[1]}`);
      for (const s of readdir(subsys) ?? []) if (isDevice(s)) wanted.add(s);
    }
  }
  const controllers: ControllerInfo[] = [];
  for (const d of [...wanted].sort(naturalCompare)) {
    const c = await readController(roots.sysfs, d);
    if (c !== null) controllers.push(c);
  }
  return readBlockSide(roots, controllers);
}
