import { describe, NvmfError } from '../errors.js';

/**
 * Names the kernel gives NVMe objects, and the order we list them in. The kernel numbers
 * controllers from an IDA bounded by INT_MAX, so an instance has at most 10 digits, and it
 * never writes a leading zero.
 */

/** A controller's name: `nvmeN`, N without leading zeros, at most 10 digits (see isDevice for the bound). */
export const DEVICE_RE = /^nvme(0|[1-9][0-9]{0,9})$/;

/** The largest controller instance: the kernel's instance IDA is bounded by INT_MAX. */
export const MAX_INSTANCE = 2 ** 31 - 1;

/** A namespace block device or its char node: `nvme3n1`, `nvme3c5n1`, `ng3n1`, `nvme3n1p2`. */
const BLOCK_RE = /^(nvme|ng)(0|[1-9][0-9]*)(c(0|[1-9][0-9]*))?n(0|[1-9][0-9]*)(p[1-9][0-9]*)?$/;

/**
 * Whether `v` is a controller name: DEVICE_RE and N at most MAX_INSTANCE. The udev helper's
 * valid_dev is the same grammar (one table of cases tests both).
 */
export function isDevice(v: unknown): v is string {
  return typeof v === 'string' && DEVICE_RE.test(v) && Number(v.slice(4)) <= MAX_INSTANCE;
}

/** The instance number of a controller name that isDevice accepted. */
export function instanceOf(device: string): number {
  return Number(device.slice(4));
}

/** Whether `v` is a namespace block device name. */
export function isBlockName(v: unknown): v is string {
  return typeof v === 'string' && BLOCK_RE.test(v);
}

/**
 * Natural order: digit runs compare as numbers (a longer run of equal value after a shorter
 * one), other runs bytewise. nvme2 before nvme10, nvme1n2 before nvme1n10.
 */
export function naturalCompare(a: string, b: string): number {
  if (typeof a !== 'string' || typeof b !== 'string')
    throw new NvmfError(
      'EINVALID_VALUE',
      `naturalCompare compares strings, got ${describe(a)} and ${describe(b)}`,
      {},
    );
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const d = Number(x) - Number(y);
      return d !== 0 ? d : x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * libnvme's rule for a registry directory, kept as ours: dot-names (temp, trash, locks,
 * intents) and in-flight `*.tmp.*` files are never entries or attributes.
 */
export function isInternalName(name: string): boolean {
  return name.startsWith('.') || name.includes('.tmp.');
}
