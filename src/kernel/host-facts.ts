import fs from 'node:fs';
import type { Roots } from '../roots.js';
import type { HostFacts } from './port.js';
import * as sysfs from './sysfs.js';

/** Where Linux publishes this boot's random id. */
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** This boot's id from `file`, or null when it cannot be read or is empty. */
export function readBootId(file: string = BOOT_ID_PATH): string | null {
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

/**
 * The host facts of a Linux host whose sysfs and dev trees are at `roots`: what LinuxKernel
 * and SimKernel answer, and what a Registry opened without a kernel is handed.
 */
export function linuxHostFacts(
  roots: Pick<Roots, 'sysfs' | 'dev'>,
  bootIdPath: string = BOOT_ID_PATH,
): HostFacts {
  return {
    deviceNodeExists: (device) => sysfs.deviceNodeExists(roots.dev, device),
    ueventSeqnum: () => sysfs.readUeventSeqnum(roots.sysfs),
    bootId: () => readBootId(bootIdPath),
    liveController: (device) => sysfs.readLiveController(roots.sysfs, device),
  };
}
