import { type ErrorCode, NvmfError } from '../errors.js';
import { type FileKind, lstatOrNull, notARegularFile, readRegularAttrFile, under } from './fsx.js';
import { isAttr, isInternalName, MAX_STAMP, ownerProblem, parseSeqnum, quote } from './names.js';
import {
  type ControllerIdentity,
  IDENTITY_ATTRS,
  identityFromAttrs,
  type OwnershipVerdict,
  ownershipVerdict,
} from './verdict.js';

export interface Entry {
  device: string;
  /**
   * The owner file's name: null when there is none (no owner file, or a 0-byte one); ''
   * is the empty name (a file holding only a line end, as libnvme writes it).
   */
  owner: string | null;
  /** The uevent seqnum stamped at create; null when absent (an entry from an older writer). */
  seqnum: number | null;
  /** The private attributes: everything but `owner`, `seqnum` and the identity attributes. */
  attrs: Record<string, string>;
  /** The controller of this name exists (a sysfs fact the registry is handed). */
  live: boolean;
  /** The controller identity recorded at connect or claim (`ctrl_*` attributes); null = none. */
  identity: ControllerIdentity | null;
  /** Who owns the live controller of this name, by this entry (verdict.ts). */
  verdict: OwnershipVerdict;
  /** The mtime (ms) of a 0-byte owner file (the hand-edit rule); absent otherwise. */
  ownerEmptySince?: number;
  /** Set only by list() when the entry could not be read: its verdict is "unknown". */
  error?: { code: ErrorCode; message: string };
}

/** A live controller as the registry is handed it: its identity, when known. */
export interface LiveController {
  readonly identity: ControllerIdentity | null;
}

/** The live controller of a name (null: none), and the time verdicts are judged at. */
export interface LiveFacts {
  controller(device: string): LiveController | null;
  readonly now: number;
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
export function entryFrom(device: string, dir: string, names: DirName[], facts: LiveFacts): Entry {
  names.sort(byName);
  let owner: string | null = null;
  let ownerEmptySince: number | undefined;
  let seqnum: number | null = null;
  const attrs: Record<string, string> = {};
  const identityAttrs: Record<string, string> = {};
  for (const { name, kind } of names) {
    if (isInternalName(name) || !isAttr(name)) continue;
    const file = under(dir, name);
    // The readdir's type refuses what is not a regular file without an fstat each.
    if (kind !== 'file') throw notARegularFile(file, kind, { device, attr: name });
    const value = readRegularAttrFile(file, device, name);
    if (name === 'owner') {
      owner = ownerOnDisk(value, device);
      if (value === null) {
        // 0 bytes, or removed since the readdir: the hand-edit rule needs to know which.
        const st = lstatOrNull(file);
        if (st === null) throw vanished(device);
        ownerEmptySince = st.mtimeMs;
      }
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
    if (IDENTITY_ATTRS.has(name)) identityAttrs[name] = value;
    else attrs[name] = value;
  }
  const identity = identityFromAttrs(identityAttrs);
  const live = facts.controller(device);
  const read = { owner, identity, ...(ownerEmptySince !== undefined ? { ownerEmptySince } : {}) };
  return {
    device,
    owner,
    seqnum,
    attrs,
    live: live !== null,
    identity,
    verdict: ownershipVerdict(read, live?.identity, facts.now),
    ...(ownerEmptySince !== undefined ? { ownerEmptySince } : {}),
  };
}

/**
 * An owner file's value as the API reports it: null when absent or 0 bytes; '' for a file
 * holding only a line end (the empty name); anything else outside the grammar refused.
 */
export function ownerOnDisk(owner: string | null, device: string): string | null {
  if (owner === null || owner === '') return owner;
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
  const error = { code: e.code, message: e.message };
  return {
    device,
    owner: null,
    seqnum: null,
    attrs: {},
    live,
    identity: null,
    verdict: ownershipVerdict({ owner: null, error }, null, 0),
    error,
  };
}

/** Sorted by name, so attributes come out, and a first error is chosen, the same way on every file system. */
function byName(a: DirName, b: DirName): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
