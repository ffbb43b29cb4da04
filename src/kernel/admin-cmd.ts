import { NvmfError } from '../errors.js';
import {
  DISCOVERY_LOG_ENTRY_SIZE as DISC_ENTRY,
  DISCOVERY_LOG_HEADER_SIZE as DISC_HEADER,
} from '../nvme/discovery-log.js';

/**
 * NVMe admin passthrough (`NVME_IOCTL_ADMIN_CMD`) for Get Log Page of the Discovery Log.
 * Pure: the struct encoding and the paging loop; the ioctl itself is injected so the logic
 * is testable without a device (ioctl.ts supplies the real one).
 *
 * struct nvme_passthru_cmd (linux/nvme_ioctl.h), 72 bytes, little-endian on every Linux arch
 * we run on:
 *   0 opcode u8, 1 flags u8, 2 rsvd1 u16, 4 nsid u32, 8 cdw2 u32, 12 cdw3 u32,
 *   16 metadata u64, 24 addr u64, 32 metadata_len u32, 36 data_len u32,
 *   40..60 cdw10..cdw15 u32, 64 timeout_ms u32, 68 result u32
 */
export const ADMIN_CMD_SIZE = 72;
/** _IOWR('N', 0x41, struct nvme_admin_cmd) */
export const NVME_IOCTL_ADMIN_CMD = ((3 << 30) | (ADMIN_CMD_SIZE << 16) | (0x4e << 8) | 0x41) >>> 0;
export const OPC_GET_LOG_PAGE = 0x02;

export interface AdminCmd {
  opcode: number;
  nsid?: number;
  addr: bigint;
  dataLen: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
  timeoutMs?: number;
}

export function encodeAdminCmd(c: AdminCmd): Uint8Array {
  const b = new Uint8Array(ADMIN_CMD_SIZE);
  const v = new DataView(b.buffer);
  v.setUint8(0, c.opcode);
  v.setUint32(4, c.nsid ?? 0, true);
  v.setBigUint64(24, c.addr, true);
  v.setUint32(36, c.dataLen, true);
  v.setUint32(40, c.cdw10 ?? 0, true);
  v.setUint32(44, c.cdw11 ?? 0, true);
  v.setUint32(48, c.cdw12 ?? 0, true);
  v.setUint32(52, c.cdw13 ?? 0, true);
  v.setUint32(56, c.cdw14 ?? 0, true);
  v.setUint32(60, c.cdw15 ?? 0, true);
  v.setUint32(64, c.timeoutMs ?? 0, true);
  return b;
}

/**
 * Get Log Page command dwords: cdw10 = LID | LSP<<8 | RAE<<15 | NUMDL<<16, cdw11 = NUMDU,
 * cdw12/13 = byte offset (low/high). NUMD is the dword count, zero-based.
 */
export function getLogPageCmd(p: {
  lid: number;
  offset: number;
  length: number;
  addr: bigint;
  rae: boolean;
  timeoutMs?: number;
}): AdminCmd {
  if (p.length <= 0 || p.length % 4 !== 0)
    throw new RangeError(`log page length ${p.length} must be a positive multiple of 4`);
  if (p.offset % 4 !== 0 || p.offset < 0)
    throw new RangeError(`log page offset ${p.offset} must be dword aligned`);
  const numd = p.length / 4 - 1;
  return {
    opcode: OPC_GET_LOG_PAGE,
    nsid: 0,
    addr: p.addr,
    dataLen: p.length,
    cdw10: ((p.lid & 0xff) | ((p.rae ? 1 : 0) << 15) | ((numd & 0xffff) << 16)) >>> 0,
    cdw11: (numd >>> 16) & 0xffff,
    cdw12: (p.offset % 2 ** 32) >>> 0,
    cdw13: Math.floor(p.offset / 2 ** 32) >>> 0,
    timeoutMs: p.timeoutMs ?? 0,
  };
}

/**
 * Read `length` bytes of a log page at `offset` into a fresh buffer. The injected function
 * owns the data buffer's memory: it gets the command (minus addr) and returns the bytes read,
 * or throws an errno-carrying error.
 */
export type LogReader = (p: { offset: number; length: number; rae: boolean }) => Promise<Uint8Array>;

export interface DiscoveryReadOptions {
  /** Bytes per Get Log Page (the kernel caps a passthrough at max_hw_sectors; 4 KiB is always safe). */
  chunk?: number;
  /** Re-reads when GENCTR changes under us. */
  maxRetries?: number;
  /** Refuse pages claiming more records than this (a corrupt NUMREC must not allocate gigabytes). */
  maxRecords?: number;
}

function genctrOf(h: Uint8Array): bigint {
  return new DataView(h.buffer, h.byteOffset, h.byteLength).getBigUint64(0, true);
}

/**
 * The discovery log page the way the spec says to read it consistently: the header (for
 * NUMREC), the entries in chunks, then the header again; if GENCTR moved the page changed
 * mid-read and we start over, a bounded number of times.
 */
export async function readDiscoveryLog(read: LogReader, o: DiscoveryReadOptions = {}): Promise<Uint8Array> {
  const chunk = o.chunk ?? 4096;
  const maxRetries = o.maxRetries ?? 10;
  const maxRecords = o.maxRecords ?? 1024;
  if (chunk <= 0 || chunk % 4 !== 0) throw new RangeError(`chunk ${chunk} must be a positive multiple of 4`);
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const header = await read({ offset: 0, length: DISC_HEADER, rae: true });
    if (header.byteLength < DISC_HEADER) {
      throw new NvmfError(
        'EDISCOVERY',
        `discovery log header short: ${header.byteLength} of ${DISC_HEADER} bytes`,
        {},
      );
    }
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const genctr = view.getBigUint64(0, true);
    const numrec = view.getBigUint64(8, true);
    if (numrec > BigInt(maxRecords)) {
      throw new NvmfError(
        'EDISCOVERY',
        `discovery log page claims ${numrec} records, more than the ${maxRecords} we accept; the controller served a corrupt page`,
        { numrec: numrec.toString() },
      );
    }
    const total = DISC_HEADER + Number(numrec) * DISC_ENTRY;
    const page = new Uint8Array(total);
    page.set(header.subarray(0, DISC_HEADER), 0);
    for (let off = DISC_HEADER; off < total; off += chunk) {
      const len = Math.min(chunk, total - off);
      const part = await read({ offset: off, length: len, rae: true });
      if (part.byteLength < len) {
        throw new NvmfError(
          'EDISCOVERY',
          `discovery log read at offset ${off} returned ${part.byteLength} of ${len} bytes`,
          {
            offset: off,
          },
        );
      }
      page.set(part.subarray(0, len), off);
    }
    // The final header read clears the retained asynchronous event (RAE=0), as nvme-cli does.
    const again = await read({ offset: 0, length: DISC_HEADER, rae: false });
    if (again.byteLength >= 8 && genctrOf(again) === genctr) return page;
  }
  throw new NvmfError(
    'EDISCOVERY',
    `discovery log page kept changing (generation counter moved on each of ${maxRetries + 1} reads); retry discovery later`,
    { retries: maxRetries },
  );
}
