import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { formatIp } from '../../src/ip.js';
import { decodeNbft, type NbftTable } from '../../src/nbft/decode.js';
import { buildNbft, fixChecksum, type NbftInput } from './build.js';

/**
 * Properties of the NBFT decoder: consistent tables round-trip through the test encoder, and no
 * byte string (random, or a valid table truncated, flipped or with its offsets and lengths
 * overwritten) makes it do anything but return a table or throw ENBFT.
 */

const printable = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: min,
    maxLength: max,
  });
const optText = (max: number): fc.Arbitrary<string | null> => fc.option(printable(1, max), { nil: null });
const ip = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b));
const optIp = fc.option(
  fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .filter((b) => b.some((x) => x !== 0))
    .map((b) => formatIp(b)),
  { nil: null },
);
const hex = (n: number): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const uuid = hex(16).map(
  (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
);
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const nonEmptyList = fc.option(fc.array(u8, { minLength: 1, maxLength: 6 }), { nil: null });

const hfiTcp = fc.record({
  pciSbdf: u32,
  mac: hex(6).map((h) => h.match(/../g)?.join(':') ?? ''),
  vlan: u16,
  ipOrigin: u8,
  ipAddress: optIp,
  subnetMaskPrefix: fc.integer({ min: 0, max: 128 }),
  gateway: optIp,
  routeMetric: u16,
  primaryDns: optIp,
  secondaryDns: optIp,
  dhcpOverride: fc.boolean(),
  dhcpServer: optIp,
  hostName: optText(40),
  globalRoute: fc.boolean(),
});

const nid = fc.integer({ min: 0, max: 5 }).chain((nidType) => {
  const v: fc.Arbitrary<NbftTable['subsystems'][number]['nid']> =
    nidType === 1
      ? hex(8).map((value) => ({ type: 'eui64' as const, value }))
      : nidType === 2
        ? hex(16).map((value) => ({ type: 'nguid' as const, value }))
        : nidType === 3
          ? uuid.map((value) => ({ type: 'uuid' as const, value }))
          : fc.constant(null);
  return v.map((n) => ({ nidType, nid: n }));
});

/** A consistent table: unique indexes, every reference resolves, nothing that warns. */
const input: fc.Arbitrary<NbftInput> = fc
  .record({
    counts: fc.record({
      hfi: fc.integer({ min: 1, max: 4 }),
      ssns: fc.integer({ min: 0, max: 5 }),
      disc: fc.integer({ min: 0, max: 3 }),
      sec: fc.integer({ min: 0, max: 3 }),
    }),
    seed: fc.array(u32, { minLength: 64, maxLength: 64 }),
  })
  .chain(({ counts, seed }) => {
    const pick = (i: number, n: number): number => ((seed[i % seed.length] as number) % n) + 1;
    return fc.record({
      majorRevision: fc.constant(1),
      minorRevision: u8,
      oemId: printable(0, 6).map((s) => s.replace(/\\/g, '').trimEnd()),
      oemTableId: printable(0, 8).map((s) => s.replace(/\\/g, '').trimEnd()),
      oemRevision: u32,
      creatorId: u32,
      creatorRevision: u32,
      driverSignature: fc.option(hex(4), { nil: null }),
      host: fc.record({
        hostNqn: printable(1, 223),
        hostId: fc
          .option(uuid, { nil: null })
          .map((id) => (id === '00000000-0000-0000-0000-000000000000' ? null : id)),
        hostIdConfigured: fc.boolean(),
        hostNqnConfigured: fc.boolean(),
        primaryAdmin: fc.constantFrom('not-indicated', 'unselected', 'selected', 'reserved' as const),
      }),
      hfis: fc.tuple(
        ...Array.from({ length: counts.hfi }, (_x, i) =>
          hfiTcp.map((tcp) => ({
            index: i + 1,
            trtype: 3,
            tcp: { ...tcp, dhcpServer: tcp.dhcpOverride ? tcp.dhcpServer : null },
          })),
        ),
      ),
      subsystems: fc.tuple(
        ...Array.from({ length: counts.ssns }, (_x, i) =>
          fc
            .record({
              index: fc.constant(i + 1),
              trtype: fc.constant(3),
              traddr: ip,
              trsvcid: optText(32),
              subsysNqn: printable(1, 223),
              portId: u16,
              nsid: u32,
              nid,
              primaryHfiIndex: fc.constant(pick(i, counts.hfi)),
              secondaryHfiIndexes: fc.array(fc.integer({ min: 1, max: counts.hfi }), { maxLength: 3 }),
              discoveryIndex: fc.constant(
                counts.disc > 0 && pick(i + 7, 2) === 1 ? pick(i + 13, counts.disc) : null,
              ),
              securityIndex: fc.constant(
                counts.sec > 0 && pick(i + 19, 2) === 1 ? pick(i + 23, counts.sec) : null,
              ),
              headerDigest: fc.boolean(),
              dataDigest: fc.boolean(),
              nonBootable: fc.boolean(),
              discoveredNamespace: fc.boolean(),
              separateDiscoveryController: fc.boolean(),
              dhcpRootPathOverride: fc.boolean(),
              availability: fc.constantFrom('not-indicated', 'available', 'unavailable', 'reserved' as const),
              extended: fc.option(
                fc.record({ cntlid: u16, asqsz: fc.option(u16, { nil: null }), dhcpRootPath: optText(80) }),
                { nil: null },
              ),
            })
            .map(({ nid: n, ...rest }) => ({ ...rest, ...n })),
        ),
      ),
      discovery: fc.tuple(
        ...Array.from({ length: counts.disc }, (_x, i) =>
          fc.record({
            index: fc.constant(i + 1),
            hfiIndex: fc.constant(pick(i + 29, counts.hfi)),
            securityIndex: fc.constant(
              counts.sec > 0 && pick(i + 31, 2) === 1 ? pick(i + 37, counts.sec) : null,
            ),
            uri: optText(60),
            nqn: optText(223),
          }),
        ),
      ),
      security: fc.tuple(
        ...Array.from({ length: counts.sec }, (_x, i) =>
          fc
            .record({
              inBand: fc.integer({ min: 0, max: 3 }),
              authPolicy: fc.integer({ min: 0, max: 3 }),
              channel: fc.integer({ min: 0, max: 3 }),
              secPolicy: fc.integer({ min: 0, max: 3 }),
              cipher: fc.boolean(),
              dh: fc.boolean(),
              hash: fc.boolean(),
              lists: fc.tuple(nonEmptyList, nonEmptyList, nonEmptyList, nonEmptyList, nonEmptyList),
              secretType: u8,
              secretKeypath: optText(60),
            })
            .map((s) => {
              const flags =
                1 |
                (s.inBand << 1) |
                (s.authPolicy << 3) |
                (s.channel << 5) |
                (s.secPolicy << 7) |
                (s.cipher ? 0x200 : 0) |
                (s.dh ? 0x400 : 0) |
                (s.hash ? 0x800 : 0);
              return {
                index: i + 1,
                flags,
                secretType: s.secretType,
                secureChannelAlgorithms: s.secPolicy !== 0 ? s.lists[0] : null,
                authenticationProtocols: s.authPolicy !== 0 ? s.lists[1] : null,
                cipherSuites: s.cipher ? s.lists[2] : null,
                dhGroups: s.dh ? s.lists[3] : null,
                secureHashFunctions: s.hash ? s.lists[4] : null,
                secretKeypath: s.secretKeypath,
              };
            }),
        ),
      ),
    });
  }) as fc.Arbitrary<NbftInput>;

/** What the decoder must return for a consistent input: the input plus its derived fields. */
function expected(v: NbftInput): Omit<NbftTable, 'name' | 'length'> {
  const states = ['not-supported', 'not-required', 'required', 'reserved'] as const;
  const sources = ['not-supported', 'driver', 'admin', 'reserved'] as const;
  return {
    ...v,
    host: { ...v.host, primaryAdmin: v.host.primaryAdmin ?? 'not-indicated' },
    hfis: v.hfis.map((h) => ({
      ...h,
      transport: 'tcp',
      tcp:
        h.tcp === null
          ? null
          : {
              ...h.tcp,
              pciAddress: `${(h.tcp.pciSbdf >>> 16).toString(16).padStart(4, '0')}:${(
                (h.tcp.pciSbdf >>> 8) &
                0xff
              )
                .toString(16)
                .padStart(
                  2,
                  '0',
                )}:${((h.tcp.pciSbdf >>> 3) & 0x1f).toString(16).padStart(2, '0')}.${h.tcp.pciSbdf & 7}`,
            },
    })),
    subsystems: v.subsystems.map((s) => ({ ...s, transport: 'tcp' })),
    security: v.security.map((s) => ({
      ...s,
      inBandAuthentication: states[(s.flags >> 1) & 3] as (typeof states)[number],
      secureChannel: states[(s.flags >> 5) & 3] as (typeof states)[number],
      authenticationPolicy: sources[(s.flags >> 3) & 3] as (typeof sources)[number],
      securityPolicy: sources[(s.flags >> 7) & 3] as (typeof sources)[number],
    })),
    warnings: [],
  };
}

/** The one allowed outcome besides a table: ENBFT with the table's name in front. */
function decodesOrEnbft(bytes: Uint8Array): void {
  let t: NbftTable;
  try {
    t = decodeNbft(bytes, 'NBFT2');
  } catch (e) {
    if (!isNvmfError(e, 'ENBFT')) throw e;
    expect(e.message.startsWith('NBFT table NBFT2: ')).toBe(true);
    expect(typeof e.details.field).toBe('string');
    return;
  }
  expect(t.name).toBe('NBFT2');
  expect(Array.isArray(t.subsystems)).toBe(true);
  expect(t.length).toBeLessThanOrEqual(bytes.length);
}

const RUNS = 300;

describe('NBFT decoder properties', () => {
  it('decode(build(v)) is v with its derived fields, and warns about nothing', () => {
    fc.assert(
      fc.property(input, (v) => {
        const t = decodeNbft(buildNbft(v), 'NBFT');
        const { name, length, ...rest } = t;
        expect(name).toBe('NBFT');
        expect(length).toBeGreaterThan(128);
        expect(rest).toEqual(expected(v));
      }),
      { numRuns: RUNS },
    );
  });

  it('random byte strings decode or throw ENBFT', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), decodesOrEnbft), { numRuns: RUNS });
  });

  it('random bytes behind a plausible header (signature, length, checksum) decode or throw ENBFT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 128, maxLength: 2048 }), fc.boolean(), (b, validControl) => {
        b.set([0x4e, 0x42, 0x46, 0x54], 0);
        new DataView(b.buffer, b.byteOffset).setUint32(4, b.length, true);
        b[8] = 1;
        if (validControl) {
          b[64] = 1;
          b[70] = 1;
        }
        decodesOrEnbft(fixChecksum(b));
      }),
      { numRuns: RUNS },
    );
  });

  it('truncated valid tables throw ENBFT', () => {
    fc.assert(
      fc.property(input, fc.nat(), (v, cut) => {
        const b = buildNbft(v);
        const short = b.slice(0, cut % b.length);
        expect(() => decodeNbft(short, 'NBFT2')).toThrow(expect.objectContaining({ code: 'ENBFT' }));
      }),
      { numRuns: RUNS },
    );
  });

  it('valid tables with flipped bytes (checksum repaired or not) decode or throw ENBFT', () => {
    fc.assert(
      fc.property(
        input,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (v, flips, repair) => {
          const b = buildNbft(v);
          for (const [at, x] of flips) b[at % b.length] = ((b[at % b.length] as number) ^ x) & 0xff;
          decodesOrEnbft(repair ? fixChecksum(b) : b);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('valid tables with offsets and lengths overwritten by extreme values decode or throw ENBFT', () => {
    const extremes = fc.constantFrom(
      0,
      1,
      0x7f,
      0x80,
      0xff,
      0x100,
      0xffff,
      0x10000,
      0x7fffffff,
      0x80000000,
      0xffffffff,
    );
    fc.assert(
      fc.property(
        input,
        fc.array(fc.tuple(fc.nat(), extremes, fc.constantFrom(1, 2, 4)), { minLength: 1, maxLength: 4 }),
        (v, writes) => {
          const b = buildNbft(v);
          const dv = new DataView(b.buffer);
          for (const [at, x, size] of writes) {
            const o = at % (b.length - size);
            if (size === 1) dv.setUint8(o, x & 0xff);
            else if (size === 2) dv.setUint16(o, x & 0xffff, true);
            else dv.setUint32(o, x >>> 0, true);
          }
          decodesOrEnbft(fixChecksum(b));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
