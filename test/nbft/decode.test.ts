import { describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { decodeNbft } from '../../src/nbft/decode.js';
import { parseNbftUri } from '../../src/nbft/uri.js';
import { buildNbft, fixChecksum, sampleInput } from './build.js';

/**
 * A table written byte by byte with the offsets typed out from the specification's figures,
 * independent of the layout module the decoder and the encoder share: one descriptor of each
 * kind, every field a distinctive value.
 */
function handTable(): Uint8Array {
  const t = new Uint8Array(1024);
  const v = new DataView(t.buffer);
  const u8 = (o: number, x: number): void => v.setUint8(o, x);
  const u16 = (o: number, x: number): void => v.setUint16(o, x, true);
  const u32 = (o: number, x: number): void => v.setUint32(o, x, true);
  const text = (o: number, s: string): void => [...s].forEach((ch, i) => u8(o + i, ch.charCodeAt(0)));
  const HEAP = 448;
  let top = HEAP;
  /** Put bytes on the heap and point the 6-byte reference at `refAt` to them. */
  const obj = (refAt: number, bytes: number[], length = bytes.length): number => {
    const at = top;
    bytes.forEach((b, i) => u8(at + i, b));
    top += bytes.length;
    u32(refAt, at);
    u16(refAt + 4, length);
    return at;
  };
  const str = (refAt: number, s: string): number =>
    obj(refAt, [...[...s].map((c) => c.charCodeAt(0)), 0], s.length);

  // header
  text(0, 'NBFT');
  u8(8, 1); // major revision
  text(10, 'ACME');
  text(16, 'BOOTTBL1');
  u32(24, 7);
  u32(28, 0x11223344);
  u32(32, 9);
  u32(36, HEAP);
  obj(44, [0xde, 0xad, 0xbe, 0xef]); // driver signature
  u8(50, 0); // minor revision
  // control, at 64
  u8(64, 1);
  u8(65, 1);
  u16(68, 64);
  u8(70, 1); // valid
  u32(72, 128); // host descriptor
  u16(76, 32);
  u32(80, 160); // HFI list: two of 32 bytes
  u16(84, 32);
  u8(87, 2);
  u32(88, 224); // SSNS list: one of 128
  u16(92, 128);
  u8(95, 1);
  u32(96, 352); // security list: one of 64
  u16(100, 64);
  u8(103, 1);
  u32(104, 416); // discovery list: one of 32
  u16(108, 32);
  u8(111, 1);
  // host, at 128
  u8(128, 2);
  u8(129, 0x01 | 0x02 | 0x10); // valid, host ID configured, primary admin "selected"
  for (let i = 0; i < 16; i++) u8(130 + i, 0xa0 + i);
  str(146, 'nqn.2014-08.org.example:host1');
  // HFI 0, at 160: TCP, index 1
  u8(160, 3);
  u8(161, 1);
  u8(162, 1);
  u8(163, 3);
  const info = obj(176, new Array(128).fill(0));
  u8(info + 0, 7);
  u8(info + 1, 1);
  u8(info + 2, 3);
  u8(info + 3, 1);
  u16(info + 4, 1); // HFI index
  u8(info + 6, 0x01 | 0x04); // valid, DHCP override
  u32(info + 7, (1 << 16) | (0x3a << 8) | (2 << 3) | 1); // PCI 0001:3a:02.1
  [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30].forEach((b, i) => u8(info + 11 + i, b));
  u16(info + 17, 100); // VLAN
  u8(info + 19, 3); // IP origin: DHCP
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3].forEach((b, i) => u8(info + 20 + i, b));
  u8(info + 36, 16);
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 1].forEach((b, i) => u8(info + 37 + i, b));
  u16(info + 54, 500);
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 53].forEach((b, i) => u8(info + 56 + i, b));
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 67].forEach((b, i) => u8(info + 88 + i, b));
  str(info + 104, 'client7');
  // HFI 1, at 192: Valid clear, junk structure ID: a reserved slot
  u8(192, 0xee);
  // SSNS 0, at 224
  u8(224, 4);
  u16(225, 5); // index
  u16(227, 0x0001 | 0x0004 | 0x0008 | 0x0010 | 0x0040 | 0x0100); // valid, security, root path, ext, discovered, unavailable
  u8(229, 3);
  u16(230, 0x07); // valid, header digest, data digest
  u8(232, 2); // primary discovery controller index
  obj(234, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]); // fd00::20
  str(240, '4420');
  u16(246, 0x0102);
  u32(248, 10);
  u8(252, 2); // NGUID
  for (let i = 0; i < 16; i++) u8(253 + i, 0x10 + i);
  u8(269, 3); // security index
  u8(270, 1); // primary HFI
  obj(272, [7]); // secondary HFI 7: not there (a warning)
  str(278, 'nqn.2024-01.com.example:boot-vol');
  const ext = obj(284, new Array(18).fill(0));
  u8(ext + 0, 9);
  u8(ext + 1, 1);
  u16(ext + 2, 5);
  u32(ext + 4, 0x01 | 0x02);
  u16(ext + 8, 0x21);
  u16(ext + 10, 64);
  str(ext + 12, 'nvme+tcp://[fd00::20]:4420/nqn.2024-01.com.example:boot-vol');
  // security 0, at 352
  u8(352, 5);
  u8(353, 3);
  u16(354, 0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0200 | 0x0400 | 0x0800);
  u8(356, 2);
  obj(358, [0, 1]); // secure channel algorithms
  obj(364, [1]); // authentication protocols
  obj(370, [0x13, 0x02]); // cipher suites
  obj(376, [1, 3]); // DH groups
  obj(382, [1, 2, 3]); // hash functions
  str(388, 'redfish://keys/boot');
  // discovery 0, at 416
  u8(416, 6);
  u8(417, 1);
  u8(418, 2);
  u8(419, 1);
  u8(420, 3);
  str(422, 'nvme+tcp://[fd00::20]:8009/');
  str(428, 'nqn.2024-01.com.example:cdc');

  u32(40, top - HEAP); // heap length
  u32(4, top); // table length
  return fixChecksum(t.slice(0, top));
}

function expectEnbft(fn: () => unknown, field: string | RegExp, table = 'NBFT'): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isNvmfError(thrown, 'ENBFT'), String(thrown)).toBe(true);
  const message = (thrown as Error).message;
  expect(message.startsWith(`NBFT table ${table}: `)).toBe(true);
  if (typeof field === 'string') expect(message).toContain(`: ${field}: `);
  else expect(message).toMatch(field);
  expect((thrown as { details: Record<string, unknown> }).details.table).toBe(table);
}

describe('decodeNbft on a hand-written table', () => {
  const t = decodeNbft(handTable(), 'NBFT1');

  it('reads the header', () => {
    expect(t.name).toBe('NBFT1');
    expect(t.majorRevision).toBe(1);
    expect(t.minorRevision).toBe(0);
    expect(t.oemId).toBe('ACME');
    expect(t.oemTableId).toBe('BOOTTBL1');
    expect(t.oemRevision).toBe(7);
    expect(t.creatorId).toBe(0x11223344);
    expect(t.creatorRevision).toBe(9);
    expect(t.driverSignature).toBe('deadbeef');
    expect(t.length).toBe(handTable().length);
  });

  it('reads the host descriptor', () => {
    expect(t.host).toEqual({
      hostNqn: 'nqn.2014-08.org.example:host1',
      hostId: 'a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf',
      hostIdConfigured: true,
      hostNqnConfigured: false,
      primaryAdmin: 'selected',
    });
  });

  it('reads the HFI descriptor and its TCP transport info, and leaves the reserved slot out', () => {
    expect(t.hfis).toHaveLength(1);
    expect(t.hfis[0]).toEqual({
      index: 1,
      trtype: 3,
      transport: 'tcp',
      tcp: {
        pciSbdf: 0x13a11,
        pciAddress: '0001:3a:02.1',
        mac: '02:00:5e:10:20:30',
        vlan: 100,
        ipOrigin: 3,
        ipAddress: '10.1.2.3',
        subnetMaskPrefix: 16,
        gateway: '10.1.0.1',
        routeMetric: 500,
        primaryDns: '10.1.0.53',
        secondaryDns: null,
        dhcpServer: '10.1.0.67',
        hostName: 'client7',
        globalRoute: false,
        dhcpOverride: true,
      },
    });
  });

  it('reads the SSNS descriptor and its extended info', () => {
    expect(t.subsystems).toEqual([
      {
        index: 5,
        trtype: 3,
        transport: 'tcp',
        traddr: 'fd00::20',
        trsvcid: '4420',
        subsysNqn: 'nqn.2024-01.com.example:boot-vol',
        portId: 0x0102,
        nsid: 10,
        nidType: 2,
        nid: { type: 'nguid', value: '101112131415161718191a1b1c1d1e1f' },
        primaryHfiIndex: 1,
        secondaryHfiIndexes: [7],
        discoveryIndex: 2,
        securityIndex: 3,
        headerDigest: true,
        dataDigest: true,
        nonBootable: false,
        discoveredNamespace: true,
        separateDiscoveryController: false,
        dhcpRootPathOverride: true,
        availability: 'unavailable',
        extended: {
          cntlid: 0x21,
          asqsz: 64,
          dhcpRootPath: 'nvme+tcp://[fd00::20]:4420/nqn.2024-01.com.example:boot-vol',
        },
      },
    ]);
  });

  it('reads the security descriptor', () => {
    expect(t.security).toEqual([
      {
        index: 3,
        flags: 0x0ed5,
        secretType: 2,
        inBandAuthentication: 'required',
        secureChannel: 'required',
        authenticationPolicy: 'admin',
        securityPolicy: 'driver',
        secureChannelAlgorithms: [0, 1],
        authenticationProtocols: [1],
        cipherSuites: [0x13, 0x02],
        dhGroups: [1, 3],
        secureHashFunctions: [1, 2, 3],
        secretKeypath: 'redfish://keys/boot',
      },
    ]);
  });

  it('reads the discovery descriptor', () => {
    expect(t.discovery).toEqual([
      {
        index: 2,
        hfiIndex: 1,
        securityIndex: 3,
        uri: 'nvme+tcp://[fd00::20]:8009/',
        nqn: 'nqn.2024-01.com.example:cdc',
      },
    ]);
    expect(parseNbftUri(t.discovery[0]?.uri as string)).toEqual({
      transport: 'tcp',
      traddr: 'fd00::20',
      trsvcid: '8009',
    });
  });

  it('warns about a reference to a descriptor that is not there', () => {
    expect(t.warnings).toEqual(['SSNS 5 secondary HFI associations: no valid HFI descriptor has index 7']);
  });
});

describe('decodeNbft round trip of the sample', () => {
  it('decodes what the encoder built, with no warnings', () => {
    const input = sampleInput();
    const t = decodeNbft(buildNbft(input));
    expect(t.warnings).toEqual([]);
    expect(t.host.hostNqn).toBe(input.host.hostNqn);
    expect(t.subsystems[0]?.traddr).toBe('192.168.49.20');
    expect(t.hfis[0]?.tcp?.pciAddress).toBe('0000:00:03.0');
  });

  it('steps over longer descriptors of a later minor revision and leaves reserved slots out', () => {
    const input = { ...sampleInput(), minorRevision: 1 };
    const plain = decodeNbft(buildNbft(input));
    const wide = decodeNbft(
      buildNbft(input, {
        stride: { hfi: 48, ssns: 160, discovery: 40 },
        reserved: { hfi: 2, ssns: 1, discovery: 1, security: 1 },
      }),
    );
    expect({ ...wide, length: 0 }).toEqual({ ...plain, length: 0 });
    expect(wide.minorRevision).toBe(1);
  });
});

describe('decodeNbft refuses corrupt tables, naming table and field', () => {
  const good = (): Uint8Array => buildNbft(sampleInput());
  const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  /** Change a table and keep its checksum right, so the check under test is the one that fires. */
  const patch = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = good();
    f(b, view(b));
    return fixChecksum(b);
  };
  const host = 128;
  const hfi = 160;
  const ssns = 192;
  const heapOffset = (b: Uint8Array): number => view(b).getUint32(36, true);

  const cases: [string, () => Uint8Array, string | RegExp][] = [
    ['empty', () => new Uint8Array(0), 'header'],
    ['shorter than the header', () => good().slice(0, 63), 'header'],
    ['another signature', () => patch((b) => b.set([0x46, 0x41, 0x43, 0x50], 0)), 'signature'],
    ['truncated below its length', () => good().slice(0, good().length - 1), 'length'],
    [
      'a length too small for header and control',
      () => patch((_b, v) => v.setUint32(4, 100, true)),
      'length',
    ],
    [
      'a bad checksum',
      () => {
        const b = good();
        b[9] = ((b[9] as number) + 1) & 0xff;
        return b;
      },
      'checksum',
    ],
    [
      'major revision 2',
      () =>
        patch((b) => {
          b[8] = 2;
        }),
      'major revision',
    ],
    ['a heap past the end', () => patch((b, v) => v.setUint32(40, b.length, true)), 'heap'],
    [
      'control descriptor not valid',
      () =>
        patch((b) => {
          b[70] = 0;
        }),
      'control flags',
    ],
    [
      'control structure ID wrong',
      () =>
        patch((b) => {
          b[64] = 2;
        }),
      'control structure ID',
    ],
    [
      'host descriptor outside the table',
      () => patch((b, v) => v.setUint32(72, b.length - 8, true)),
      'host descriptor offset',
    ],
    [
      'host descriptor not valid',
      () =>
        patch((b) => {
          b[host + 1] = 0;
        }),
      'host descriptor flags',
    ],
    ['host NQN outside the heap', () => patch((_b, v) => v.setUint32(host + 18, 10, true)), 'host NQN'],
    [
      'host NQN longer than the heap',
      () => patch((_b, v) => v.setUint16(host + 22, 0xffff, true)),
      'host NQN',
    ],
    ['host NQN missing', () => patch((_b, v) => v.setUint16(host + 22, 0, true)), 'host NQN'],
    [
      'host NQN with a control byte',
      () =>
        patch((b, v) => {
          b[v.getUint32(host + 18, true)] = 0x07;
        }),
      'host NQN',
    ],
    [
      'HFI list past the end',
      () => patch((b, v) => v.setUint32(80, b.length - 16, true)),
      'HFI descriptor list offset',
    ],
    [
      'HFI list inside the header',
      () => patch((_b, v) => v.setUint32(80, 8, true)),
      'HFI descriptor list offset',
    ],
    ['HFI descriptor too short', () => patch((_b, v) => v.setUint16(84, 16, true)), 'HFI descriptor length'],
    [
      'HFI structure ID wrong',
      () =>
        patch((b) => {
          b[hfi] = 4;
        }),
      'HFI descriptor 0 structure ID',
    ],
    [
      'HFI transport info too short',
      () => patch((_b, v) => v.setUint16(hfi + 20, 64, true)),
      'HFI descriptor 0 transport info',
    ],
    [
      'HFI transport info of another version',
      () =>
        patch((b, v) => {
          b[v.getUint32(hfi + 16, true) + 1] = 2;
        }),
      'HFI descriptor 0 transport info version',
    ],
    [
      'SSNS count past the end',
      () =>
        patch((b) => {
          b[95] = 200;
        }),
      'SSNS descriptor list offset',
    ],
    [
      'SSNS structure ID wrong',
      () =>
        patch((b) => {
          b[ssns] = 3;
        }),
      'SSNS descriptor 0 structure ID',
    ],
    [
      'SSNS address too short for an IP',
      () => patch((_b, v) => v.setUint16(ssns + 14, 4, true)),
      'SSNS descriptor 0 transport address',
    ],
    [
      'SSNS address missing',
      () => patch((_b, v) => v.setUint16(ssns + 14, 0, true)),
      'SSNS descriptor 0 transport address',
    ],
    [
      'SSNS NQN missing',
      () => patch((_b, v) => v.setUint16(ssns + 58, 0, true)),
      'SSNS descriptor 0 subsystem NQN',
    ],
    [
      'SSNS NQN before the heap',
      () => patch((b, v) => v.setUint32(ssns + 54, heapOffset(b) - 1, true)),
      'SSNS descriptor 0 subsystem NQN',
    ],
    [
      'SSNS secondary HFIs outside the heap',
      () =>
        patch((b, v) => {
          v.setUint32(ssns + 48, b.length - 1, true);
          v.setUint16(ssns + 52, 2, true);
        }),
      'SSNS descriptor 0 secondary HFI associations',
    ],
    [
      'discovery list too short',
      () => patch((_b, v) => v.setUint16(108, 31, true)),
      'discovery descriptor length',
    ],
  ];

  it.each(cases)('%s', (_name, make, field) => {
    expectEnbft(() => decodeNbft(make()), field);
  });

  it('shows a non-printable OEM ID byte escaped instead of failing: nothing depends on it', () => {
    const t = decodeNbft(patch((b) => b.set([0x41, 0x01, 0x5c, 0x20, 0, 0], 10)));
    expect(t.oemId).toBe('A\\x01\\x5c');
  });

  it('names the table it was given in errors', () => {
    expectEnbft(() => decodeNbft(new Uint8Array(10), 'NBFT3'), 'header', 'NBFT3');
  });

  it('refuses a non-buffer argument with EINVALID_OPTION', () => {
    expect(() => decodeNbft('NBFT' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'EINVALID_OPTION' }),
    );
  });
});

describe('parseNbftUri', () => {
  it.each([
    ['nvme+tcp://192.168.1.1:4420/', { transport: 'tcp', traddr: '192.168.1.1', trsvcid: '4420' }],
    ['nvme+tcp://192.168.1.1/', { transport: 'tcp', traddr: '192.168.1.1', trsvcid: null }],
    ['nvme+tcp://192.168.1.1', { transport: 'tcp', traddr: '192.168.1.1', trsvcid: null }],
    ['nvme+tcp://[FD00:0::1]:8009/nqn.x', { transport: 'tcp', traddr: 'fd00::1', trsvcid: '8009' }],
    ['nvme+rdma://10.0.0.1:4420', { transport: 'rdma', traddr: '10.0.0.1', trsvcid: '4420' }],
    ['nvme+tcp://fd00::1:4420/', null],
    ['nvme+tcp://[10.0.0.1]:4420/', null],
    ['nvme+tcp://host.example:4420/', null],
    ['nvme+tcp://10.0.0.1:99999/', null],
    ['http://10.0.0.1/', null],
    ['', null],
  ])('%s', (uri, expected) => {
    expect(parseNbftUri(uri)).toEqual(expected);
  });
});
