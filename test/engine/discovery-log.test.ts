import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DISCOVERY_LOG_ENTRY_SIZE,
  DISCOVERY_LOG_HEADER_SIZE,
  type DiscoveryLogEntry,
  decodeDiscoveryLog,
  discoveryEntry,
  encodeDiscoveryLog,
} from '../../src/nvme/discovery-log.js';
import { isNvmfError } from '../../src/errors.js';

/** Build a page by hand, byte by byte, independent of the encoder. */
function handPage(numrec: number, entries: Array<(e: Uint8Array) => void>, length?: number): Uint8Array {
  const buf = new Uint8Array(length ?? DISCOVERY_LOG_HEADER_SIZE + entries.length * DISCOVERY_LOG_ENTRY_SIZE);
  buf[0] = 0x2a; // genctr = 42 + 256*1
  buf[1] = 0x01;
  buf[8] = numrec & 0xff;
  buf[9] = (numrec >> 8) & 0xff;
  entries.forEach((fill, i) => {
    fill(buf.subarray(DISCOVERY_LOG_HEADER_SIZE + i * DISCOVERY_LOG_ENTRY_SIZE));
  });
  return buf;
}

function ascii(dst: Uint8Array, off: number, s: string): void {
  for (let i = 0; i < s.length; i++) dst[off + i] = s.charCodeAt(i);
}

function expectDiscoveryError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(isNvmfError(e, 'EDISCOVERY')).toBe(true);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected EDISCOVERY');
}

describe('decodeDiscoveryLog on hand-built bytes', () => {
  it('reads header and entry fields at the spec offsets', () => {
    const page = handPage(1, [
      (e) => {
        e[0] = 3; // tcp
        e[1] = 1; // ipv4
        e[2] = 2; // nvm subsystem
        e[3] = 0x04; // treq bits are passed through raw
        e[4] = 0x34; // portid 0x1234
        e[5] = 0x12;
        e[6] = 0x01; // cntlid 1
        e[7] = 0x00;
        e[8] = 0x80; // asqsz 128
        e[10] = 0x01; // eflags
        ascii(e, 32, '4420');
        e.fill(0x20, 36, 64); // space padding, as the spec says
        ascii(e, 256, 'nqn.2024-01.io.example:sub1');
        ascii(e, 512, '192.168.0.10');
        e[768] = 0x01; // tsas first byte
      },
    ]);
    const log = decodeDiscoveryLog(page);
    expect(log.genctr).toBe(298n);
    expect(log.recfmt).toBe(0);
    expect(log.entries).toHaveLength(1);
    const [ent] = log.entries;
    expect(ent).toMatchObject({
      trtype: 3,
      adrfam: 1,
      subtype: 2,
      treq: 4,
      portid: 0x1234,
      cntlid: 1,
      asqsz: 128,
      eflags: 1,
      trsvcid: '4420',
      subnqn: 'nqn.2024-01.io.example:sub1',
      traddr: '192.168.0.10',
    });
    expect(ent?.tsas[0]).toBe(1);
    expect(ent?.tsas.byteLength).toBe(256);
  });

  it('decodes an empty page (numrec 0) and ignores trailing bytes of a chunked read', () => {
    const log = decodeDiscoveryLog(handPage(0, [], 4096));
    expect(log.entries).toEqual([]);
  });

  it('decodes several entries in order', () => {
    const page = handPage(2, [
      (e) => {
        e[0] = 3;
        e[2] = 1;
        ascii(e, 32, '8009');
        ascii(e, 256, 'nqn.2014-08.org.nvmexpress.discovery');
        ascii(e, 512, '10.0.0.2');
      },
      (e) => {
        e[0] = 1;
        e[2] = 2;
        ascii(e, 32, '4420');
        ascii(e, 256, 'nqn.2024-01.io.example:b');
        ascii(e, 512, '10.0.0.3');
      },
    ]);
    const log = decodeDiscoveryLog(page);
    expect(log.entries.map((e) => [e.trtype, e.subtype, e.traddr, e.trsvcid])).toEqual([
      [3, 1, '10.0.0.2', '8009'],
      [1, 2, '10.0.0.3', '4420'],
    ]);
  });

  it('rejects a buffer shorter than the header', () => {
    expectDiscoveryError(() => decodeDiscoveryLog(new Uint8Array(100)), /truncated: 100 bytes/);
  });

  it('rejects numrec larger than the buffer holds', () => {
    const page = handPage(3, [() => {}, () => {}]);
    expectDiscoveryError(() => decodeDiscoveryLog(page), /NUMREC says 3 entries .* hold only 2/);
  });

  it('rejects a partial trailing entry as missing', () => {
    const page = handPage(1, [], DISCOVERY_LOG_HEADER_SIZE + 1000);
    expectDiscoveryError(() => decodeDiscoveryLog(page), /NUMREC says 1 entries .* hold only 0/);
  });

  it('rejects an absurd numrec without allocating', () => {
    const page = handPage(0, []);
    page.fill(0xff, 8, 16);
    expectDiscoveryError(() => decodeDiscoveryLog(page), /NUMREC says 18446744073709551615/);
  });

  it('rejects an unknown record format', () => {
    const page = handPage(0, []);
    page[16] = 1;
    expectDiscoveryError(() => decodeDiscoveryLog(page), /record format 1/);
  });

  it('rejects control bytes inside a string field', () => {
    const page = handPage(1, [
      (e) => {
        ascii(e, 512, '10.0.0.1');
        e[515] = 0x07;
      },
    ]);
    expectDiscoveryError(() => decodeDiscoveryLog(page), /entry 0: field traddr holds non-ASCII byte 0x7/);
  });
});

const printable = (max: number) =>
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: max,
  });

const entryArb: fc.Arbitrary<DiscoveryLogEntry> = fc.record({
  trtype: fc.integer({ min: 0, max: 255 }),
  adrfam: fc.integer({ min: 0, max: 255 }),
  subtype: fc.integer({ min: 0, max: 255 }),
  treq: fc.integer({ min: 0, max: 255 }),
  portid: fc.integer({ min: 0, max: 0xffff }),
  cntlid: fc.integer({ min: 0, max: 0xffff }),
  asqsz: fc.integer({ min: 0, max: 0xffff }),
  eflags: fc.integer({ min: 0, max: 0xffff }),
  // inner spaces survive; only trailing padding is trimmed, so strings end in a non-space
  trsvcid: printable(32),
  subnqn: printable(223),
  traddr: printable(256),
  tsas: fc.uint8Array({ minLength: 256, maxLength: 256 }),
});

describe('encode/decode round trip', () => {
  it('decode(encode(log)) == log', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.array(entryArb, { maxLength: 5 }),
        (genctr, entries) => {
          const log = decodeDiscoveryLog(encodeDiscoveryLog({ genctr, entries }));
          expect(log.genctr).toBe(genctr);
          expect(log.entries).toEqual(entries);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encoder rejects over-long fields', () => {
    const e = discoveryEntry({ subnqn: 'x'.repeat(257), traddr: '1.2.3.4', trsvcid: '4420' });
    expectDiscoveryError(
      () => encodeDiscoveryLog({ entries: [e] }),
      /subnqn must be printable ASCII of at most 256/,
    );
  });
});
