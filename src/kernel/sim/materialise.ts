import fs from 'node:fs';
import path from 'node:path';
import type { SimLayout } from './layout.js';
import { writeAtomic } from './layout.js';
import {
  BLOCK_EXT_MAJOR,
  DEFAULT_RECONNECT_DELAY,
  maxReconnects,
  type SimBlockUse,
  type SimController,
} from './state.js';

/**
 * Writes the simulated kernel's state as the real kernel shows it: sysfs devices with
 * class symlinks, subsystem directories linking their controllers, and dev nodes as
 * regular files. Only called under the sim lock.
 */
const CTL_REL = ['devices', 'virtual', 'nvme-fabrics', 'ctl'];
const SUBSYS_REL = ['devices', 'virtual', 'nvme-subsystem'];

function ctrlDevDir(l: SimLayout, inst: number): string {
  return path.join(l.sys, ...CTL_REL, `nvme${inst}`);
}

function subsysDevDir(l: SimLayout, s: number): string {
  return path.join(l.sys, ...SUBSYS_REL, `nvme-subsys${s}`);
}

export function addressAttr(
  c: Pick<SimController, 'traddr' | 'trsvcid' | 'host_traddr' | 'host_iface' | 'transport' | 'state'>,
): string {
  if (c.transport === 'loop') return '';
  const parts = [`traddr=${c.traddr ?? ''}`];
  if (c.trsvcid !== undefined) parts.push(`trsvcid=${c.trsvcid}`);
  if (c.host_traddr !== undefined) parts.push(`host_traddr=${c.host_traddr}`);
  if (c.host_iface !== undefined) parts.push(`host_iface=${c.host_iface}`);
  // nvme-tcp on 6.1 appends the local socket address while the admin queue is live
  // (measured: traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1); not while connecting, nor
  // while the path is down (measured while reconnecting).
  if (c.transport === 'tcp' && c.state !== 'connecting' && c.state !== 'resetting')
    parts.push(`src_addr=${c.host_traddr ?? (c.traddr?.includes(':') ? '::1' : '127.0.0.1')}`);
  return parts.join(',');
}

export function writeController(l: SimLayout, c: SimController): void {
  const d = ctrlDevDir(l, c.instance);
  fs.mkdirSync(d, { recursive: true });
  const attrs: Record<string, string> = {
    transport: c.transport,
    address: addressAttr(c),
    subsysnqn: c.subsysnqn,
    hostnqn: c.hostnqn,
    hostid: c.hostid,
    state: c.state,
    cntlid: String(c.cntlid),
    cntrltype: c.discovery ? 'discovery' : 'io',
    dev: `242:${c.instance}`,
    // 6.1 shows the attempts it will make times the delay, "off" when it retries forever.
    ctrl_loss_tmo:
      maxReconnects(c) < 0 ? 'off' : String(maxReconnects(c) * (c.reconnectDelay ?? DEFAULT_RECONNECT_DELAY)),
    reconnect_delay: String(c.reconnectDelay ?? DEFAULT_RECONNECT_DELAY),
    fast_io_fail_tmo: 'off',
    delete_controller: '',
    reset_controller: '',
    rescan_controller: '',
    uevent: `MAJOR=242\nMINOR=${c.instance}\nDEVNAME=nvme${c.instance}\nNVME_TRTYPE=${c.transport}`,
  };
  for (const [k, v] of Object.entries(attrs)) writeAtomic(path.join(d, k), v === '' ? '' : `${v}\n`);
  // Write-only for root, as sysfs makes them: an unprivileged writer gets EACCES.
  for (const k of ['delete_controller', 'reset_controller', 'rescan_controller'])
    fs.chmodSync(path.join(d, k), 0o200);
  fs.mkdirSync(path.join(l.sys, 'class', 'nvme'), { recursive: true });
  const link = path.join(l.sys, 'class', 'nvme', `nvme${c.instance}`);
  if (fs.lstatSync(link, { throwIfNoEntry: false }) === undefined) {
    fs.symlinkSync(path.join('..', '..', ...CTL_REL, `nvme${c.instance}`), link);
  }
  fs.mkdirSync(l.dev, { recursive: true });
  const node = path.join(l.dev, `nvme${c.instance}`);
  if (fs.lstatSync(node, { throwIfNoEntry: false }) === undefined) fs.writeFileSync(node, '');
}

export function setControllerState(l: SimLayout, inst: number, state: string): void {
  const f = path.join(ctrlDevDir(l, inst), 'state');
  if (fs.existsSync(path.dirname(f))) writeAtomic(f, `${state}\n`);
}

/** The attributes a path loss or a reconnect changes: state, address (src_addr) and cntlid. */
export function updateControllerLink(l: SimLayout, c: SimController): void {
  const d = ctrlDevDir(l, c.instance);
  if (!fs.existsSync(d)) return;
  writeAtomic(path.join(d, 'state'), `${c.state}\n`);
  writeAtomic(path.join(d, 'address'), `${addressAttr(c)}\n`);
  writeAtomic(path.join(d, 'cntlid'), `${c.cntlid}\n`);
}

/** The dev node goes first: devtmpfs removes it before the remove uevent is sent. */
export function removeControllerNode(l: SimLayout, inst: number): void {
  fs.rmSync(path.join(l.dev, `nvme${inst}`), { force: true });
}

export function removeControllerSysfs(l: SimLayout, inst: number): void {
  fs.rmSync(path.join(l.sys, 'class', 'nvme', `nvme${inst}`), { force: true });
  removeDirOfFiles(ctrlDevDir(l, inst));
}

/**
 * Remove a directory we materialised. Its entries' types come with the readdir, so plain
 * files go with one unlink each; rmSync's generic walk lstats every file and fails an rmdir
 * first, which made it most of a controller teardown. Subdirectories take the generic walk.
 */
function removeDirOfFiles(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
    else {
      try {
        fs.unlinkSync(p);
      } catch {
        fs.rmSync(p, { recursive: true, force: true });
      }
    }
  }
  try {
    fs.rmdirSync(dir);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function writeSubsystem(l: SimLayout, s: number, nqn: string, discovery: boolean): void {
  const d = subsysDevDir(l, s);
  fs.mkdirSync(d, { recursive: true });
  writeAtomic(path.join(d, 'subsysnqn'), `${nqn}\n`);
  writeAtomic(path.join(d, 'subsystype'), `${discovery ? 'discovery' : 'nvm'}\n`);
  writeAtomic(path.join(d, 'iopolicy'), 'numa\n');
  fs.mkdirSync(path.join(l.sys, 'class', 'nvme-subsystem'), { recursive: true });
  const link = path.join(l.sys, 'class', 'nvme-subsystem', `nvme-subsys${s}`);
  if (fs.lstatSync(link, { throwIfNoEntry: false }) === undefined) {
    fs.symlinkSync(path.join('..', '..', ...SUBSYS_REL, `nvme-subsys${s}`), link);
  }
}

export function linkSubsystemController(l: SimLayout, s: number, inst: number, on: boolean): void {
  const link = path.join(subsysDevDir(l, s), `nvme${inst}`);
  if (!on) {
    fs.rmSync(link, { force: true });
    return;
  }
  if (fs.lstatSync(link, { throwIfNoEntry: false }) === undefined) {
    fs.symlinkSync(path.join('..', '..', 'nvme-fabrics', 'ctl', `nvme${inst}`), link);
  }
}

export function removeSubsystem(l: SimLayout, s: number): void {
  fs.rmSync(path.join(l.sys, 'class', 'nvme-subsystem', `nvme-subsys${s}`), { force: true });
  fs.rmSync(subsysDevDir(l, s), { recursive: true, force: true });
}

/** A relative symlink `link` -> `target`, as sysfs makes them; kept if already there. */
function relLink(link: string, target: string): void {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  if (fs.lstatSync(link, { throwIfNoEntry: false }) === undefined)
    fs.symlinkSync(path.relative(path.dirname(link), target), link);
}

/**
 * A block device's directory `d` as the kernel shows it: `dev`, `holders/` (and `slaves/`
 * for a whole disk), reachable as `/sys/class/block/<name>`, `/sys/dev/block/<dev>` and, for
 * a whole disk, `/sys/block/<name>`.
 */
function writeBlock(l: SimLayout, name: string, d: string, dev: string, disk: boolean): void {
  fs.mkdirSync(path.join(d, 'holders'), { recursive: true });
  if (disk) fs.mkdirSync(path.join(d, 'slaves'), { recursive: true });
  writeAtomic(path.join(d, 'dev'), `${dev}\n`);
  relLink(path.join(l.sys, 'class', 'block', name), d);
  relLink(path.join(l.sys, 'dev', 'block', dev), d);
  if (disk) relLink(path.join(l.sys, 'block', name), d);
}

/**
 * Remove block device `name` at `d` with its partitions, links and node. Returns the names
 * removed (the device and its partitions), so their holders can drop them.
 */
function removeBlock(l: SimLayout, name: string, d: string): string[] {
  const removed = [name];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(d);
  } catch {
    // already gone
  }
  for (const e of entries) {
    if (e.startsWith(`${name}p`) && /^\d+$/.test(e.slice(name.length + 1)))
      removed.push(...removeBlock(l, e, path.join(d, e)));
  }
  let dev: string | null;
  try {
    dev = fs.readFileSync(path.join(d, 'dev'), 'utf8').trim();
  } catch {
    dev = null;
  }
  fs.rmSync(path.join(l.sys, 'class', 'block', name), { force: true });
  fs.rmSync(path.join(l.sys, 'block', name), { force: true });
  if (dev !== null) fs.rmSync(path.join(l.sys, 'dev', 'block', dev), { force: true });
  fs.rmSync(path.join(l.dev, name), { force: true });
  fs.rmSync(d, { recursive: true, force: true });
  return removed;
}

function writeDisk(
  l: SimLayout,
  name: string,
  d: string,
  nsid: number,
  minor: number,
  partMinors: readonly number[] = [],
): void {
  fs.mkdirSync(d, { recursive: true });
  writeAtomic(path.join(d, 'nsid'), `${nsid}\n`);
  writeAtomic(path.join(d, 'size'), '2097152\n');
  writeBlock(l, name, d, `${BLOCK_EXT_MAJOR}:${minor}`, true);
  // The partition scan of a disk that carries a table: equal parts, from sector 2048.
  partMinors.forEach((pm, i) => {
    const p = `${name}p${i + 1}`;
    const pd = path.join(d, p);
    fs.mkdirSync(pd, { recursive: true });
    writeAtomic(path.join(pd, 'partition'), `${i + 1}\n`);
    writeAtomic(path.join(pd, 'start'), `${2048 + i * 1024}\n`);
    writeAtomic(path.join(pd, 'size'), '1024\n');
    writeBlock(l, p, pd, `${BLOCK_EXT_MAJOR}:${pm}`, false);
    fs.writeFileSync(path.join(l.dev, p), '');
  });
}

/**
 * Namespace `h` (head instance = nsid here) attached through controller `inst` of subsystem
 * `s`. Multipath: the hidden path disk `nvme<S>c<C>n<H>` under the controller (no node, no
 * partitions) and, for the first path, the head `nvme<S>n<H>` under the subsystem with
 * `/dev/nvme<S>n<H>`, `/dev/ng<S>n<H>` and its partitions. Without multipath: `nvme<C>n<H>`
 * and `ng<C>n<H>` of the controller, with its partitions.
 */
export function attachNamespace(
  l: SimLayout,
  inst: number,
  s: number,
  h: number,
  o: { multipath: boolean; minor: number; headMinor?: number; partMinors?: readonly number[] },
): void {
  if (o.multipath) {
    const p = `nvme${s}c${inst}n${h}`;
    writeDisk(l, p, path.join(ctrlDevDir(l, inst), p), h, o.minor);
    if (o.headMinor !== undefined) {
      fs.writeFileSync(path.join(l.dev, `nvme${s}n${h}`), '');
      fs.writeFileSync(path.join(l.dev, `ng${s}n${h}`), '');
      const head = `nvme${s}n${h}`;
      writeDisk(l, head, path.join(subsysDevDir(l, s), head), h, o.headMinor, o.partMinors);
    }
  } else {
    fs.writeFileSync(path.join(l.dev, `nvme${inst}n${h}`), '');
    fs.writeFileSync(path.join(l.dev, `ng${inst}n${h}`), '');
    const disk = `nvme${inst}n${h}`;
    writeDisk(l, disk, path.join(ctrlDevDir(l, inst), disk), h, o.minor, o.partMinors);
  }
}

/**
 * Detach namespace `h` of controller `inst`; with multipath the head goes with its last path
 * (the kernel's nvme_ns_remove: del_gendisk of the head once its path list is empty, mounted
 * or not). Returns the usable block devices removed (disk and partitions).
 */
export function detachNamespace(
  l: SimLayout,
  inst: number,
  s: number,
  h: number,
  lastPath: boolean,
  multipath: boolean,
): string[] {
  if (multipath) {
    const p = `nvme${s}c${inst}n${h}`;
    removeBlock(l, p, path.join(ctrlDevDir(l, inst), p));
    if (!lastPath) return [];
    fs.rmSync(path.join(l.dev, `ng${s}n${h}`), { force: true });
    const head = `nvme${s}n${h}`;
    return removeBlock(l, head, path.join(subsysDevDir(l, s), head));
  }
  fs.rmSync(path.join(l.dev, `ng${inst}n${h}`), { force: true });
  const disk = `nvme${inst}n${h}`;
  return removeBlock(l, disk, path.join(ctrlDevDir(l, inst), disk));
}

/** The sysfs directory of block device `name`, or null when there is none. */
export function blockDir(l: SimLayout, name: string): string | null {
  try {
    return fs.realpathSync(path.join(l.sys, 'class', 'block', name));
  } catch {
    return null;
  }
}

/** A device-mapper (`dm-N`) or md (`mdN`) device, as its driver creates it. */
export function writeHolder(l: SimLayout, name: string, dev: string): void {
  const d = path.join(l.sys, 'devices', 'virtual', 'block', name);
  fs.mkdirSync(d, { recursive: true });
  writeAtomic(path.join(d, 'size'), '1024\n');
  if (name.startsWith('dm-')) {
    fs.mkdirSync(path.join(d, 'dm'), { recursive: true });
    writeAtomic(path.join(path.join(d, 'dm'), 'name'), `${name}\n`);
  }
  writeBlock(l, name, d, dev, true);
  fs.writeFileSync(path.join(l.dev, name), '');
}

/** `holder` holds `slave` (bd_link_disk_holder): `slave/holders/<holder>` and `holder/slaves/<slave>`. */
export function linkHolder(l: SimLayout, slave: string, holder: string): void {
  const sd = blockDir(l, slave);
  const hd = blockDir(l, holder);
  if (sd === null || hd === null) return;
  relLink(path.join(sd, 'holders', holder), hd);
  relLink(path.join(hd, 'slaves', slave), sd);
}

/** Drop the `slaves/<slave>` link of a holder whose slave device went away. */
export function unlinkHolder(l: SimLayout, holder: string, slave: string): void {
  const hd = blockDir(l, holder);
  if (hd !== null) fs.rmSync(path.join(hd, 'slaves', slave), { force: true });
}

/** procfs escapes space, tab, newline and backslash in paths as octal. */
function escapeProc(p: string): string {
  return p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** The simulated host's own filesystems, below whatever `nvmf sim mount` adds. */
const BASE_MOUNTS = [
  '21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '22 21 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '23 21 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
];

/** `<proc>/self/mountinfo` and `<proc>/swaps` of the simulated host, in the kernel's formats. */
export function writeProc(l: SimLayout, u: SimBlockUse): void {
  fs.mkdirSync(path.join(l.proc, 'self'), { recursive: true });
  const lines = [
    ...BASE_MOUNTS,
    ...u.mounts.map(
      (m) =>
        `${m.id} 21 ${m.dev} / ${escapeProc(m.mountPoint)} rw,relatime shared:${m.id} - ext4 /dev/${m.device} rw`,
    ),
  ];
  writeAtomic(path.join(l.proc, 'self', 'mountinfo'), `${lines.join('\n')}\n`);
  const swaps = [
    'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority',
    ...u.swaps.map((w, i) => `${`/dev/${w.device}`.padEnd(40)}partition\t1020\t\t0\t\t-${i + 2}`),
  ];
  writeAtomic(path.join(l.proc, 'swaps'), `${swaps.join('\n')}\n`);
}
