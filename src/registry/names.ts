import { describe } from '../args.js';
import { NvmfError } from '../errors.js';
import { isDevice } from '../nvme/names.js';
import { IDENTITY_ATTRS } from './verdict.js';

export { DEVICE_RE, instanceOf, isDevice, isInternalName, naturalCompare } from '../nvme/names.js';

/**
 * Names and values of the registry, and their grammar. Every public path goes through
 * these checks, reads included, so no caller-supplied string can ever become a path
 * component outside the registry (`../x`, `/etc/passwd`, `nvme1/../../x`).
 */

export const ATTR_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_OWNER_BYTES = 64;
/**
 * libnvme reads an attribute into a 4096-byte buffer and keeps at most 4095 bytes, so
 * `value\n` must fit in 4095 bytes for both implementations to see the same value.
 */
export const MAX_VALUE_BYTES = 4094;
/** Largest attribute file we read: a longer file is not one either implementation wrote. */
export const MAX_FILE_BYTES = MAX_VALUE_BYTES + 2;
/** Attributes only the library itself writes: the stamp and the controller identity. */
export const RESERVED_ATTRS: ReadonlySet<string> = new Set(['seqnum', ...IDENTITY_ATTRS]);

/**
 * A value made visible for an error message: a string JSON-quoted (control characters
 * escaped) and truncated, anything else described without running any code of its own.
 */
export function quote(v: unknown): string {
  return describe(v);
}

export function checkDevice(v: unknown): string {
  if (!isDevice(v)) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `invalid device name ${quote(v)}: expected nvmeN with N a kernel instance number without leading zeros (nvme0, nvme12)`,
      { device: typeof v === 'string' ? v : describe(v) },
    );
  }
  return v;
}

export function isAttr(v: unknown): v is string {
  return typeof v === 'string' && ATTR_RE.test(v);
}

export function checkAttr(v: unknown): string {
  if (!isAttr(v)) {
    throw new NvmfError(
      'EINVALID_ATTR',
      `invalid attribute name ${quote(v)}: expected 1 to 64 characters from A-Z a-z 0-9 _ -`,
      { attr: typeof v === 'string' ? v : describe(v) },
    );
  }
  return v;
}

/** Caller-writable attribute: valid and not reserved. */
export function checkWritableAttr(v: unknown): string {
  const attr = checkAttr(v);
  if (RESERVED_ATTRS.has(attr)) {
    throw new NvmfError(
      'ERESERVED_ATTR',
      `attribute ${quote(attr)} is reserved: the library writes it (${attr === 'seqnum' ? 'the stamp, when the entry is created' : 'the controller identity, at connect and claim'}); choose another name`,
      { attr },
    );
  }
  return attr;
}

// C0, DEL and C1 controls; line/paragraph separators; lone surrogates (not UTF-8 encodable,
// and how decodeDiskText carries a byte that is not UTF-8); U+FFFD, the replacement character
// a decoder puts where bytes were not UTF-8 (Node decodes the command line that way, so an
// owner typed as $'st\xffas' arrives as "st\ufffdas" and is refused as the API refuses it).
const OWNER_FORBIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd/]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `v` is not a valid owner, or null when it is. Pure, so policy code can test it. */
export function ownerProblem(v: unknown): string | null {
  if (typeof v !== 'string') return 'it is not a string';
  if (v.length === 0) return 'it is empty (use disown to remove an owner)';
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes > MAX_OWNER_BYTES) return `it is ${bytes} bytes long, the limit is ${MAX_OWNER_BYTES}`;
  if (OWNER_FORBIDDEN.test(v)) return "it contains '/', a control character or invalid UTF-8";
  return null;
}

export function isOwner(v: unknown): v is string {
  return ownerProblem(v) === null;
}

export function checkOwner(v: unknown): string {
  const problem = ownerProblem(v);
  if (problem !== null) {
    throw new NvmfError(
      'EINVALID_OWNER',
      `invalid owner ${quote(v)}: ${problem}; an owner is 1 to ${MAX_OWNER_BYTES} bytes of printable UTF-8 without '/'`,
      { owner: typeof v === 'string' ? v : describe(v) },
    );
  }
  return v as string;
}

/** Why `v` is not a storable attribute value, or null. */
export function valueProblem(v: unknown): string | null {
  if (typeof v !== 'string') return 'it is not a string';
  if (v.length === 0) return 'it is empty (unset the attribute instead)';
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes > MAX_VALUE_BYTES) return `it is ${bytes} bytes long, the limit is ${MAX_VALUE_BYTES}`;
  if (/[\u0000\n\r]/.test(v)) return 'it contains NUL, CR or newline (an attribute file holds one line)';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v))
    return 'it is not valid UTF-8';
  return null;
}

export function checkValue(attr: string, v: unknown): string {
  const problem = valueProblem(v);
  if (problem !== null) {
    throw new NvmfError(
      'EINVALID_VALUE',
      `invalid value ${quote(v)} for attribute ${quote(attr)}: ${problem}`,
      {
        attr,
      },
    );
  }
  return v as string;
}

/** The largest stamp: the kernel's uevent seqnum is a u64. */
export const MAX_STAMP = '18446744073709551615';

/**
 * Whether `text` is a seqnum stamp: a canonical decimal (0, or no leading zero) of at most
 * MAX_STAMP. The udev helper's is_dec is the same grammar (one table of cases tests both).
 */
export function isStamp(text: string): boolean {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(text)) return false;
  return text.length < MAX_STAMP.length || text <= MAX_STAMP;
}

/**
 * The seqnum stamp as written, or null when it is not one (isStamp). A number: exact up to
 * 2^53 (the kernel's counter, one per uevent, stays far below); a larger stamp is valid and
 * reads as the nearest number.
 */
export function parseSeqnum(text: string): number | null {
  return isStamp(text) ? Number(text) : null;
}

export function checkSeqnum(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new NvmfError('EINVALID_VALUE', `invalid seqnum ${quote(v)}: expected a non-negative integer`, {});
  }
  return v;
}
