import fs from 'node:fs';
import path from 'node:path';
import type { SimLayout } from './layout.js';
import { writeAtomic } from './layout.js';
import { DEFAULT_RECONNECT_DELAY, maxReconnects, type SimController } from './state.js';

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

function writeDisk(d: string, nsid: number, minor: number): void {
  fs.mkdirSync(d, { recursive: true });
  writeAtomic(path.join(d, 'nsid'), `${nsid}\n`);
  writeAtomic(path.join(d, 'size'), '2097152\n');
  writeAtomic(path.join(d, 'dev'), `259:${minor}\n`);
}

/**
 * Namespace `h` (head instance = nsid here) attached through controller `inst` of subsystem
 * `s`. Multipath: the hidden path disk `nvme<S>c<C>n<H>` under the controller and, for the
 * first path, the head `nvme<S>n<H>` under the subsystem with `/dev/nvme<S>n<H>` and
 * `/dev/ng<S>n<H>`. Without multipath: `nvme<C>n<H>` and `ng<C>n<H>` of the controller.
 */
export function attachNamespace(
  l: SimLayout,
  inst: number,
  s: number,
  h: number,
  o: { multipath: boolean; minor: number; headMinor?: number },
): void {
  if (o.multipath) {
    writeDisk(path.join(ctrlDevDir(l, inst), `nvme${s}c${inst}n${h}`), h, o.minor);
    if (o.headMinor !== undefined) {
      writeDisk(path.join(subsysDevDir(l, s), `nvme${s}n${h}`), h, o.headMinor);
      fs.writeFileSync(path.join(l.dev, `nvme${s}n${h}`), '');
      fs.writeFileSync(path.join(l.dev, `ng${s}n${h}`), '');
    }
  } else {
    writeDisk(path.join(ctrlDevDir(l, inst), `nvme${inst}n${h}`), h, o.minor);
    fs.writeFileSync(path.join(l.dev, `nvme${inst}n${h}`), '');
    fs.writeFileSync(path.join(l.dev, `ng${inst}n${h}`), '');
  }
}

export function detachNamespace(
  l: SimLayout,
  inst: number,
  s: number,
  h: number,
  lastPath: boolean,
  multipath: boolean,
): void {
  if (multipath) {
    fs.rmSync(path.join(ctrlDevDir(l, inst), `nvme${s}c${inst}n${h}`), { recursive: true, force: true });
    if (lastPath) {
      fs.rmSync(path.join(l.dev, `ng${s}n${h}`), { force: true });
      fs.rmSync(path.join(l.dev, `nvme${s}n${h}`), { force: true });
      fs.rmSync(path.join(subsysDevDir(l, s), `nvme${s}n${h}`), { recursive: true, force: true });
    }
  } else {
    fs.rmSync(path.join(l.dev, `ng${inst}n${h}`), { force: true });
    fs.rmSync(path.join(l.dev, `nvme${inst}n${h}`), { force: true });
    fs.rmSync(path.join(ctrlDevDir(l, inst), `nvme${inst}n${h}`), { recursive: true, force: true });
  }
}
