/**
 * What a controller serves, read and driven on the real guest: native multipath heads and
 * their paths from sysfs, filesystems, swap and device-mapper holders on a namespace. Used by
 * the in-use scenarios; no project code in here.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { attr, controllers, rawConnect, resetHost, target, udevSettle } from './guest.js';

/** Poll until `cond` holds (generous bound: the guest is emulated and the host loaded). */
export async function waitFor(what: string, cond: () => boolean, boundMs = 120_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${boundMs} ms`);
    await sleep(20);
  }
}

const PATH_DISK = /^nvme(\d+)c(\d+)n(\d+)$/;

/** The path disks of a controller (`nvmeScCnN`, one per namespace it serves), from sysfs. */
export function pathDisks(device: string): string[] {
  if (!existsSync(`/sys/class/nvme/${device}`)) return [];
  return readdirSync(`/sys/class/nvme/${device}`)
    .filter((d) => PATH_DISK.test(d))
    .sort();
}

/** The multipath head a path disk serves: `nvmeScCnN` -> `nvmeSnN`. */
export function headOfPath(pathDisk: string): string {
  const m = PATH_DISK.exec(pathDisk);
  if (!m) throw new Error(`${pathDisk} is not a path disk`);
  return `nvme${m[1]}n${m[3]}`;
}

/** The heads a controller serves. */
export function headsOf(device: string): string[] {
  return pathDisks(device).map(headOfPath);
}

/** The controllers that have a path to `head`. */
export function pathsOf(head: string): string[] {
  return controllers().filter((c) => headsOf(c).includes(head));
}

/** `major:minor` of a block device, as /proc/self/mountinfo names it. */
export function majMin(blockdev: string): string {
  return readFileSync(`/sys/block/${blockdev}/dev`, 'utf8').trim();
}

export function holders(blockdev: string): string[] {
  return readdirSync(`/sys/block/${blockdev}/holders`).sort();
}

export interface MountLine {
  majMin: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

export function mounts(): MountLine[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [left, right] = l.split(' - ');
      const f = left!.split(' ');
      const r = right!.split(' ');
      return { majMin: f[2]!, mountpoint: f[4]!, fstype: r[0]!, source: r[1]! };
    });
}

/** The Filename column of /proc/swaps. */
export function swaps(): string[] {
  return readFileSync('/proc/swaps', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.split(/\s+/)[0]!);
}

/** Run a tool, throwing its stderr when it fails. */
export function run(cmd: string, ...args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}

/**
 * A raw connect (no project code) to `nqn` on port `trsvcid`; returns the controller once its
 * namespaces' heads exist in /dev and udevd has settled (so no probe races a later delete).
 */
export async function connectPath(nqn: string, trsvcid: string, expectNamespaces = 1): Promise<string> {
  const r = rawConnect(`transport=tcp,traddr=${target.traddr},trsvcid=${trsvcid},nqn=${nqn}`);
  const dev = `nvme${r.instance}`;
  await waitFor(`${dev}: ${expectNamespaces} namespace(s) with a head in /dev`, () => {
    const heads = headsOf(dev);
    return heads.length >= expectNamespaces && heads.every((h) => existsSync(`/dev/${h}`));
  });
  udevSettle();
  return dev;
}

/** mkfs.ext4 on `/dev/NAME` (NAME may be `mapper/x`) and mount it at `mountpoint`. */
export function mkfsAndMount(dev: string, mountpoint: string): void {
  run('mkfs.ext4', '-q', '-F', `/dev/${dev}`);
  mkdirSync(mountpoint, { recursive: true });
  run('mount', `/dev/${dev}`, mountpoint);
}

/** Write a file on a mounted filesystem and make it durable; throws the kernel's error. */
export function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Our mountpoints' prefix (not /mnt/kt-: the guest's io share is /mnt/kt-io). */
export const KT_MOUNT_PREFIX = '/mnt/ktu-';
export const DM_NAME = 'kt-lin';

/** A device-mapper linear device over all of `/dev/DEV`; returns its `dm-N` name. */
export function dmLinear(dev: string): string {
  const sectors = run('blockdev', '--getsz', `/dev/${dev}`).trim();
  run('dmsetup', 'create', DM_NAME, '--table', `0 ${sectors} linear /dev/${dev} 0`);
  udevSettle();
  const holder = holders(dev).find((h) => h.startsWith('dm-'));
  if (!holder) throw new Error(`${DM_NAME} over ${dev}: no dm holder in sysfs`);
  return holder;
}

/**
 * Undo every use a test made (our mounts, swap on nvme devices, our dm device), whatever state
 * the test left, then delete every fabrics controller and empty the registry. A mount whose
 * device was deleted under it still unmounts.
 */
export function releaseAll(): void {
  for (const m of mounts().reverse()) {
    if (m.mountpoint.startsWith(KT_MOUNT_PREFIX)) run('umount', m.mountpoint);
  }
  for (const s of swaps()) if (/^\/dev\/nvme/.test(s)) run('swapoff', s);
  if (existsSync(`/dev/mapper/${DM_NAME}`)) run('dmsetup', 'remove', DM_NAME);
  resetHost();
}

/** Controllers of subsystem `nqn` in state live. */
export function liveControllersOf(nqn: string): string[] {
  return controllers().filter((c) => attr(c, 'subsysnqn') === nqn && attr(c, 'state') === 'live');
}
