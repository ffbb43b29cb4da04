import { types } from 'node:util';
import { checkRecord, describe, invalidOption } from '../args.js';
import { NvmfError } from '../errors.js';

/**
 * The Discovery Log Page (log identifier 0x70) as the NVMe base specification lays it out:
 * a 1024-byte header (GENCTR u64, NUMREC u64, RECFMT u16, reserved) followed by NUMREC
 * 1024-byte entries. All integers are little-endian; string fields are ASCII, padded with
 * spaces or NULs.
 */
export const DISCOVERY_LOG_HEADER_SIZE = 1024;
export const DISCOVERY_LOG_ENTRY_SIZE = 1024;
/** Log identifier of the Discovery Log Page in Get Log Page. */
export const DISCOVERY_LOG_ID = 0x70;

/** Entry field offsets and sizes (bytes). */
const F = {
  trtype: 0,
  adrfam: 1,
  subtype: 2,
  treq: 3,
  portid: 4,
  cntlid: 6,
  asqsz: 8,
  eflags: 10,
  trsvcid: 32,
  trsvcidLen: 32,
  subnqn: 256,
  subnqnLen: 256,
  traddr: 512,
  traddrLen: 256,
  tsas: 768,
  tsasLen: 256,
} as const;

/** TRTYPE: the transport type of an entry. */
export const TRTYPE = { rdma: 1, fc: 2, tcp: 3, loop: 0xfe } as const;
/** ADRFAM: the address family of an entry's TRADDR. */
export const ADRFAM = { ipv4: 1, ipv6: 2, ib: 3, fc: 4, loop: 0xfe } as const;
/** SUBTYPE: 1 = referral to another discovery service, 2 = NVM subsystem, 3 = current discovery subsystem. */
export const SUBTYPE = { referral: 1, nvm: 2, currentDiscovery: 3 } as const;

/** One 1024-byte entry, decoded. */
export interface DiscoveryLogEntry {
  trtype: number;
  adrfam: number;
  subtype: number;
  treq: number;
  portid: number;
  cntlid: number;
  asqsz: number;
  eflags: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
  /** Transport-specific address subtype, kept raw (256 bytes). */
  tsas: Uint8Array;
}

/** A decoded page: its generation counter, record format and entries. */
export interface DiscoveryLog {
  genctr: bigint;
  recfmt: number;
  entries: DiscoveryLogEntry[];
}

/** Transport name (as the fabrics interface spells it) of a TRTYPE value, or null. */
export function trtypeName(trtype: number): 'rdma' | 'fc' | 'tcp' | 'loop' | null {
  switch (trtype) {
    case TRTYPE.rdma:
      return 'rdma';
    case TRTYPE.fc:
      return 'fc';
    case TRTYPE.tcp:
      return 'tcp';
    case TRTYPE.loop:
      return 'loop';
    default:
      return null;
  }
}

/** The TRTYPE of a transport name; EDISCOVERY for one the log has no type for. */
export function trtypeOf(transport: string): number {
  if (typeof transport !== 'string' || !Object.hasOwn(TRTYPE, transport)) {
    throw new NvmfError(
      'EDISCOVERY',
      `transport ${describe(transport)} has no discovery log TRTYPE; use tcp, rdma, fc or loop`,
      {
        transport: describe(transport),
      },
    );
  }
  return (TRTYPE as Record<string, number>)[transport] as number;
}

function readString(buf: Uint8Array, off: number, len: number, field: string, index: number): string {
  let end = off + len;
  // Fields are padded with NULs (Linux nvmet) or spaces (the spec's ASCII rule); trim both.
  while (end > off && (buf[end - 1] === 0 || buf[end - 1] === 0x20)) end--;
  for (let i = off; i < end; i++) {
    const c = buf[i] as number;
    if (c === 0) {
      // a NUL followed by more text: stop at the first NUL, the way C readers of the page do
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) {
      throw new NvmfError(
        'EDISCOVERY',
        `discovery log entry ${index}: field ${field} holds non-ASCII byte 0x${c.toString(16)} at offset ${i - off}; the discovery controller served a corrupt page`,
        { field, index },
      );
    }
  }
  return Buffer.from(buf.buffer, buf.byteOffset + off, end - off).toString('latin1');
}

/**
 * Decode a whole discovery log page. Rejects pages shorter than their header, whose NUMREC
 * promises more entries than the buffer holds, with an unknown RECFMT, or with corrupt string
 * fields, naming the problem. Extra trailing bytes are ignored (pages are read in fixed chunks).
 */
export function decodeDiscoveryLog(buf: Uint8Array): DiscoveryLog {
  if (!isUint8Array(buf))
    throw invalidOption('decodeDiscoveryLog', `expected the page as a Uint8Array, got ${describe(buf)}`);
  if (buf.byteLength < DISCOVERY_LOG_HEADER_SIZE) {
    throw new NvmfError(
      'EDISCOVERY',
      `discovery log page truncated: ${buf.byteLength} bytes, the header alone is ${DISCOVERY_LOG_HEADER_SIZE}; retry discovery`,
      { length: buf.byteLength },
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const genctr = view.getBigUint64(0, true);
  const numrec = view.getBigUint64(8, true);
  const recfmt = view.getUint16(16, true);
  if (recfmt !== 0) {
    throw new NvmfError(
      'EDISCOVERY',
      `discovery log page has record format ${recfmt}; only format 0 is defined`,
      { recfmt },
    );
  }
  const room = BigInt(Math.floor((buf.byteLength - DISCOVERY_LOG_HEADER_SIZE) / DISCOVERY_LOG_ENTRY_SIZE));
  if (numrec > room) {
    throw new NvmfError(
      'EDISCOVERY',
      `discovery log page inconsistent: NUMREC says ${numrec} entries but ${buf.byteLength} bytes hold only ${room}; the page changed while being read or was truncated, retry discovery`,
      { numrec: numrec.toString(), length: buf.byteLength },
    );
  }
  const entries: DiscoveryLogEntry[] = [];
  for (let i = 0; i < Number(numrec); i++) {
    const base = DISCOVERY_LOG_HEADER_SIZE + i * DISCOVERY_LOG_ENTRY_SIZE;
    const e = buf.subarray(base, base + DISCOVERY_LOG_ENTRY_SIZE);
    const ev = new DataView(e.buffer, e.byteOffset, e.byteLength);
    entries.push({
      trtype: e[F.trtype] as number,
      adrfam: e[F.adrfam] as number,
      subtype: e[F.subtype] as number,
      treq: e[F.treq] as number,
      portid: ev.getUint16(F.portid, true),
      cntlid: ev.getUint16(F.cntlid, true),
      asqsz: ev.getUint16(F.asqsz, true),
      eflags: ev.getUint16(F.eflags, true),
      trsvcid: readString(e, F.trsvcid, F.trsvcidLen, 'trsvcid', i),
      subnqn: readString(e, F.subnqn, F.subnqnLen, 'subnqn', i),
      traddr: readString(e, F.traddr, F.traddrLen, 'traddr', i),
      tsas: Uint8Array.from(e.subarray(F.tsas, F.tsas + F.tsasLen)),
    });
  }
  return { genctr, recfmt, entries };
}

function writeString(
  dst: Uint8Array,
  off: number,
  len: number,
  value: string,
  field: string,
  pad: number,
): void {
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length > len || !/^[\x20-\x7e]*$/.test(value)) {
    throw new NvmfError(
      'EDISCOVERY',
      `discovery log field ${field} must be printable ASCII of at most ${len} bytes, got ${describe(value)}`,
      {
        field,
      },
    );
  }
  dst.fill(pad, off, off + len);
  dst.set(bytes, off);
}

/**
 * Encode a discovery log page (the simulated kernel serves these). String fields are
 * padded with NUL, except TRSVCID which the spec pads with spaces.
 */
export function encodeDiscoveryLog(log: {
  genctr?: bigint;
  recfmt?: number;
  entries: readonly DiscoveryLogEntry[];
}): Uint8Array {
  log = checkLog(log);
  const out = new Uint8Array(DISCOVERY_LOG_HEADER_SIZE + log.entries.length * DISCOVERY_LOG_ENTRY_SIZE);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, log.genctr ?? 0n, true);
  view.setBigUint64(8, BigInt(log.entries.length), true);
  view.setUint16(16, log.recfmt ?? 0, true);
  log.entries.forEach((entry, i) => {
    const base = DISCOVERY_LOG_HEADER_SIZE + i * DISCOVERY_LOG_ENTRY_SIZE;
    const e = out.subarray(base, base + DISCOVERY_LOG_ENTRY_SIZE);
    const ev = new DataView(out.buffer, base, DISCOVERY_LOG_ENTRY_SIZE);
    e[F.trtype] = entry.trtype;
    e[F.adrfam] = entry.adrfam;
    e[F.subtype] = entry.subtype;
    e[F.treq] = entry.treq;
    ev.setUint16(F.portid, entry.portid, true);
    ev.setUint16(F.cntlid, entry.cntlid, true);
    ev.setUint16(F.asqsz, entry.asqsz, true);
    ev.setUint16(F.eflags, entry.eflags, true);
    writeString(e, F.trsvcid, F.trsvcidLen, entry.trsvcid, 'trsvcid', 0x20);
    writeString(e, F.subnqn, F.subnqnLen, entry.subnqn, 'subnqn', 0);
    writeString(e, F.traddr, F.traddrLen, entry.traddr, 'traddr', 0);
    if (entry.tsas.byteLength > F.tsasLen) {
      throw new NvmfError(
        'EDISCOVERY',
        `discovery log field tsas is at most ${F.tsasLen} bytes, got ${entry.tsas.byteLength}`,
        {
          field: 'tsas',
        },
      );
    }
    e.set(entry.tsas, F.tsas);
  });
  return out;
}

/** An entry with defaults, for callers (the sim, tests) that only care about the address. */
export function discoveryEntry(
  p: Pick<DiscoveryLogEntry, 'subnqn' | 'traddr' | 'trsvcid'> &
    Partial<DiscoveryLogEntry> & { transport?: string },
): DiscoveryLogEntry {
  p = checkRecord(p, 'discoveryEntry', [
    ...U8_FIELDS,
    ...U16_FIELDS,
    ...STRING_FIELDS,
    'tsas',
    'transport',
  ]) as typeof p;
  const trtype = p.trtype ?? trtypeOf(p.transport ?? 'tcp');
  if (typeof p.traddr !== 'string')
    throw invalidOption('discoveryEntry', `traddr must be a string, got ${describe(p.traddr)}`);
  const adrfam =
    p.adrfam ??
    (trtype === TRTYPE.fc
      ? ADRFAM.fc
      : trtype === TRTYPE.loop
        ? ADRFAM.loop
        : p.traddr.includes(':')
          ? ADRFAM.ipv6
          : ADRFAM.ipv4);
  return checkEntry(
    {
      trtype,
      adrfam,
      subtype: p.subtype ?? SUBTYPE.nvm,
      treq: p.treq ?? 0,
      portid: p.portid ?? 1,
      cntlid: p.cntlid ?? 0xffff,
      asqsz: p.asqsz ?? 32,
      eflags: p.eflags ?? 0,
      trsvcid: p.trsvcid,
      subnqn: p.subnqn,
      traddr: p.traddr,
      tsas: p.tsas ?? new Uint8Array(0),
    },
    'discoveryEntry',
  );
}

// util.types asks the engine, not the object's prototype chain (a proxy's trap could throw).
const isUint8Array = (v: unknown): v is Uint8Array => types.isUint8Array(v);

const U8_FIELDS = ['trtype', 'adrfam', 'subtype', 'treq'] as const;
const U16_FIELDS = ['portid', 'cntlid', 'asqsz', 'eflags'] as const;
const STRING_FIELDS = ['trsvcid', 'subnqn', 'traddr'] as const;

/** A log entry's fields type-checked and read once: integers in their field's range, strings, tsas bytes. */
function checkEntry(v: unknown, what: string): DiscoveryLogEntry {
  const e = checkRecord(v, what, [...U8_FIELDS, ...U16_FIELDS, ...STRING_FIELDS, 'tsas']);
  const int = (k: string, max: number): void => {
    const x = e[k as keyof typeof e];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max)
      throw invalidOption(what, `${k} must be an integer 0-${max}, got ${describe(x)}`);
  };
  for (const k of U8_FIELDS) int(k, 0xff);
  for (const k of U16_FIELDS) int(k, 0xffff);
  for (const k of STRING_FIELDS)
    if (typeof e[k] !== 'string') throw invalidOption(what, `${k} must be a string, got ${describe(e[k])}`);
  if (!isUint8Array(e.tsas)) throw invalidOption(what, `tsas must be a Uint8Array, got ${describe(e.tsas)}`);
  return e as unknown as DiscoveryLogEntry;
}

function checkLog(v: unknown): { genctr?: bigint; recfmt?: number; entries: DiscoveryLogEntry[] } {
  const what = 'encodeDiscoveryLog';
  const log = checkRecord(v, what, ['genctr', 'recfmt', 'entries']);
  const out: { genctr?: bigint; recfmt?: number; entries: DiscoveryLogEntry[] } = { entries: [] };
  if (log.genctr !== undefined) {
    if (typeof log.genctr !== 'bigint' || log.genctr < 0n || log.genctr >= 2n ** 64n)
      throw invalidOption(what, `genctr must be a BigInt 0 to 2^64-1, got ${describe(log.genctr)}`);
    out.genctr = log.genctr;
  }
  if (log.recfmt !== undefined) {
    const r = log.recfmt;
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 0xffff)
      throw invalidOption(what, `recfmt must be an integer 0-65535, got ${describe(r)}`);
    out.recfmt = r;
  }
  let entries: unknown[];
  try {
    if (!Array.isArray(log.entries)) throw new Error();
    entries = [...(log.entries as unknown[])];
  } catch {
    throw invalidOption(what, `entries must be an array, got ${describe(log.entries)}`);
  }
  out.entries = entries.map((e, i) => checkEntry(e, `${what} entry ${i}`));
  return out;
}
