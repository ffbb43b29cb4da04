import { type ErrorCode, NvmfError } from '../errors.js';
import { type FileKind, lstatOrNull, notARegularFile, readRegularAttrFile, under } from './fsx.js';
import { isAttr, isInternalName, MAX_STAMP, ownerProblem, parseSeqnum, quote } from './names.js';

export interface Entry {
  device: string;
  /** null = unowned (no owner file, or an empty one). */
  owner: string | null;
  /** The uevent seqnum stamped at create; null when absent (an entry from an older writer). */
  seqnum: number | null;
  /** The private attributes: everything but `owner` and `seqnum`. */
  attrs: Record<string, string>;
  /** The device node exists. */
  live: boolean;
  /** Set only by list() when the entry could not be read: treat it as "owner unknown". */
  error?: { code: ErrorCode; message: string };
}

/** One name in an entry's directory, typed by the readdir that found it. */
export interface DirName {
  readonly name: string;
  readonly kind: FileKind;
}

/**
 * The entry of `device` held by `names`, read from its directory `dir`: what an entry is
 * (which names count, what each value means, what is refused) is decided here. Names outside
 * the attribute grammar are left to their writer.
 */
export function entryFrom(
  device: string,
  dir: string,
  names: DirName[],
  nodeExists: (device: string) => boolean,
): Entry {
  names.sort(byName);
  let owner: string | null = null;
  let seqnum: number | null = null;
  const attrs: Record<string, string> = {};
  for (const { name, kind } of names) {
    if (isInternalName(name) || !isAttr(name)) continue;
    const file = under(dir, name);
    // The readdir's type refuses what is not a regular file without an fstat each.
    if (kind !== 'file') throw notARegularFile(file, kind, { device, attr: name });
    const value = readRegularAttrFile(file, device, name);
    if (name === 'owner') {
      owner = ownerOnDisk(value, device);
      if (owner === null && value === null && lstatOrNull(file) === null) throw vanished(device);
      continue;
    }
    if (value === null) continue;
    if (name === 'seqnum') {
      seqnum = parseSeqnum(value);
      if (seqnum === null) {
        throw new NvmfError(
          'EINVALID_VALUE',
          `the seqnum stamp of ${device}, ${quote(value)}, is not a decimal number of at most ${MAX_STAMP}`,
          { device, onDisk: true },
        );
      }
      continue;
    }
    attrs[name] = value;
  }
  return { device, owner, seqnum, attrs, live: nodeExists(device) };
}

/** An owner file's value as the API reports it: empty = unowned; anything outside the grammar refused. */
export function ownerOnDisk(owner: string | null, device: string): string | null {
  if (owner === null || owner === '') return null;
  const problem = ownerProblem(owner);
  if (problem !== null) {
    throw new NvmfError(
      'EINVALID_OWNER',
      `the owner of ${device} on disk, ${quote(owner)}, is invalid: ${problem}`,
      { device, onDisk: true },
    );
  }
  return owner;
}

export function vanished(device: string): NvmfError {
  return new NvmfError('ENOT_REGISTERED', `${device} disappeared while being read`, { device });
}

/** The entry of a listing that could not be read: "owner unknown", with why. */
export function unreadableEntry(device: string, e: NvmfError, live: boolean): Entry {
  return { device, owner: null, seqnum: null, attrs: {}, live, error: { code: e.code, message: e.message } };
}

/** Sorted by name, so attributes come out, and a first error is chosen, the same way on every file system. */
function byName(a: DirName, b: DirName): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
