import { ipBytes } from '../../src/ip.js';
import type { NbftHfi, NbftHfiTcp, NbftHost, NbftSubsystem, NbftTable } from '../../src/nbft/decode.js';
import {
  CONTROL,
  CONTROL_FLAG_VALID,
  DESC,
  DISCOVERY,
  DISCOVERY_FLAG_VALID,
  HEADER,
  HFI,
  HFI_FLAG_VALID,
  HFI_TCP,
  HFI_TCP_FLAG,
  HOST,
  HOST_FLAG,
  NBFT_MAJOR_REVISION,
  NBFT_SIGNATURE,
  NBFT_TRTYPE_TCP,
  SECURITY,
  SECURITY_FLAG,
  SSNS,
  SSNS_EXT,
  SSNS_EXT_FLAG,
  SSNS_FLAG,
  SSNS_TRFLAG,
} from '../../src/nbft/layout.js';

/**
 * The test side of the NBFT: builds a valid table (checksum, heap, descriptor lists) from the
 * same shape the decoder returns, so encode → decode is the identity on consistent values.
 * Derived fields of the value (transport names, pciAddress, policy states of a security
 * descriptor) are not read: their sources (trtype, pciSbdf, flags) are. Tests make corrupt
 * tables by changing the bytes this returns; the VM hands them to QEMU as -acpitable.
 */
export type NbftInput = Omit<NbftTable, 'name' | 'length' | 'warnings' | 'host' | 'hfis' | 'subsystems'> & {
  host: Omit<NbftHost, 'primaryAdmin'> & { primaryAdmin?: NbftHost['primaryAdmin'] };
  hfis: (Omit<NbftHfi, 'transport' | 'tcp'> & { tcp: Omit<NbftHfiTcp, 'pciAddress'> | null })[];
  subsystems: Omit<NbftSubsystem, 'transport'>[];
};

export interface BuildOptions {
  /** Zero-filled descriptors (Valid clear) appended after the real ones of each list. */
  reserved?: Partial<Record<'hfi' | 'ssns' | 'discovery' | 'security', number>>;
  /** Descriptor lengths larger than revision 1.0's (a later minor revision's). */
  stride?: Partial<Record<'hfi' | 'ssns' | 'discovery' | 'security', number>>;
}

class Heap {
  readonly chunks: Uint8Array[] = [];
  size = 0;
  /** Offset of `bytes` relative to the heap start. */
  add(bytes: Uint8Array): number {
    const at = this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    return at;
  }
}

/** A heap reference to patch once the heap's table offset is known. */
interface Ref {
  at: number;
  heapOffset: number;
  length: number;
}

export function buildNbft(v: NbftInput, opts: BuildOptions = {}): Uint8Array {
  const heap = new Heap();
  const refs: Ref[] = [];
  /** References inside heap objects, patched once the heap's table offset is known. */
  const nested: (Ref & { obj: Uint8Array })[] = [];
  const reserved = opts.reserved ?? {};
  const stride = {
    hfi: opts.stride?.hfi ?? HFI.size,
    ssns: opts.stride?.ssns ?? SSNS.size,
    discovery: opts.stride?.discovery ?? DISCOVERY.size,
    security: opts.stride?.security ?? SECURITY.size,
  };
  const counts = {
    hfi: v.hfis.length + (reserved.hfi ?? 0),
    ssns: v.subsystems.length + (reserved.ssns ?? 0),
    discovery: v.discovery.length + (reserved.discovery ?? 0),
    security: v.security.length + (reserved.security ?? 0),
  };
  const hostAt = CONTROL.offset + CONTROL.size;
  const hfiAt = hostAt + HOST.size;
  const ssnsAt = hfiAt + counts.hfi * stride.hfi;
  const secAt = ssnsAt + counts.ssns * stride.ssns;
  const discAt = secAt + counts.security * stride.security;
  const heapAt = discAt + counts.discovery * stride.discovery;
  const t = new Uint8Array(heapAt); // grown below once the heap is known
  const dv = new DataView(t.buffer);

  const ref = (at: number, bytes: Uint8Array | null, length = bytes?.length ?? 0): void => {
    if (bytes === null || length === 0) return;
    refs.push({ at, heapOffset: heap.add(bytes), length });
  };
  /** A string heap object: its bytes and a NUL after them; the length leaves the NUL out. */
  const str = (at: number, s: string | null): void => {
    if (s === null || s === '') return;
    const b = new Uint8Array(s.length + 1);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    ref(at, b, s.length);
  };
  const ascii = (at: number, s: string, size: number): void => {
    for (let i = 0; i < Math.min(s.length, size); i++) t[at + i] = s.charCodeAt(i);
  };

  // header
  ascii(HEADER.signature, NBFT_SIGNATURE, 4);
  t[HEADER.majorRevision] = NBFT_MAJOR_REVISION;
  t[HEADER.minorRevision] = v.minorRevision;
  ascii(HEADER.oemId, v.oemId, 6);
  ascii(HEADER.oemTableId, v.oemTableId, 8);
  dv.setUint32(HEADER.oemRevision, v.oemRevision, true);
  dv.setUint32(HEADER.creatorId, v.creatorId, true);
  dv.setUint32(HEADER.creatorRevision, v.creatorRevision, true);
  if (v.driverSignature !== null) ref(HEADER.driverSignature, Buffer.from(v.driverSignature, 'hex'));

  // control
  const c = CONTROL.offset;
  t[c + CONTROL.structureId] = DESC.control;
  t[c + CONTROL.majorRevision] = 1;
  dv.setUint16(c + CONTROL.csl, CONTROL.size, true);
  t[c + CONTROL.flags] = CONTROL_FLAG_VALID;
  dv.setUint32(c + CONTROL.hostDescriptor, hostAt, true);
  dv.setUint16(c + CONTROL.hostDescriptor + 4, HOST.size, true);
  const list = (offAt: number, lenAt: number, countAt: number, at: number, len: number, n: number): void => {
    if (n === 0) return;
    dv.setUint32(c + offAt, at, true);
    dv.setUint16(c + lenAt, len, true);
    t[c + countAt] = n;
  };
  list(CONTROL.hfiOffset, CONTROL.hfiLength, CONTROL.hfiCount, hfiAt, stride.hfi, counts.hfi);
  list(CONTROL.ssnsOffset, CONTROL.ssnsLength, CONTROL.ssnsCount, ssnsAt, stride.ssns, counts.ssns);
  list(
    CONTROL.securityOffset,
    CONTROL.securityLength,
    CONTROL.securityCount,
    secAt,
    stride.security,
    counts.security,
  );
  list(
    CONTROL.discoveryOffset,
    CONTROL.discoveryLength,
    CONTROL.discoveryCount,
    discAt,
    stride.discovery,
    counts.discovery,
  );

  // host
  const h = v.host;
  t[hostAt + HOST.structureId] = DESC.host;
  const admin = ['not-indicated', 'unselected', 'selected', 'reserved'].indexOf(
    h.primaryAdmin ?? 'not-indicated',
  );
  t[hostAt + HOST.flags] =
    HOST_FLAG.valid |
    (h.hostIdConfigured ? HOST_FLAG.hostIdConfigured : 0) |
    (h.hostNqnConfigured ? HOST_FLAG.hostNqnConfigured : 0) |
    (admin << HOST_FLAG.primaryAdminShift);
  if (h.hostId !== null) t.set(Buffer.from(h.hostId.replace(/-/g, ''), 'hex'), hostAt + HOST.hostId);
  str(hostAt + HOST.hostNqn, h.hostNqn);

  // HFIs
  v.hfis.forEach((hfi, i) => {
    const o = hfiAt + i * stride.hfi;
    t[o + HFI.structureId] = DESC.hfi;
    t[o + HFI.index] = hfi.index;
    t[o + HFI.flags] = HFI_FLAG_VALID;
    t[o + HFI.trtype] = hfi.trtype;
    if (hfi.tcp !== null) ref(o + HFI.transportInfo, hfiTcp(hfi.index, hfi.tcp));
  });

  // SSNS
  v.subsystems.forEach((s, i) => {
    const o = ssnsAt + i * stride.ssns;
    t[o + SSNS.structureId] = DESC.ssns;
    dv.setUint16(o + SSNS.index, s.index, true);
    const unavailable = ['not-indicated', 'available', 'unavailable', 'reserved'].indexOf(s.availability);
    const flags =
      SSNS_FLAG.valid |
      (s.nonBootable ? SSNS_FLAG.nonBootable : 0) |
      (s.securityIndex !== null ? SSNS_FLAG.useSecurity : 0) |
      (s.dhcpRootPathOverride ? SSNS_FLAG.dhcpRootPathOverride : 0) |
      (s.extended !== null ? SSNS_FLAG.extendedInfoInUse : 0) |
      (s.separateDiscoveryController ? SSNS_FLAG.separateDiscoveryController : 0) |
      (s.discoveredNamespace ? SSNS_FLAG.discoveredNamespace : 0) |
      (unavailable << SSNS_FLAG.unavailableShift);
    dv.setUint16(o + SSNS.flags, flags, true);
    t[o + SSNS.trtype] = s.trtype;
    dv.setUint16(
      o + SSNS.trflags,
      SSNS_TRFLAG.valid |
        (s.headerDigest ? SSNS_TRFLAG.headerDigest : 0) |
        (s.dataDigest ? SSNS_TRFLAG.dataDigest : 0),
      true,
    );
    t[o + SSNS.primaryDiscoveryIndex] = s.discoveryIndex ?? 0;
    const addr = ipBytes(s.traddr);
    if (addr === null) throw new Error(`buildNbft: traddr ${s.traddr} is not an IP address`);
    ref(o + SSNS.traddr, addr);
    str(o + SSNS.trsvcid, s.trsvcid);
    dv.setUint16(o + SSNS.portId, s.portId, true);
    dv.setUint32(o + SSNS.nsid, s.nsid, true);
    t[o + SSNS.nidt] = s.nidType;
    if (s.nid !== null) t.set(Buffer.from(s.nid.value.replace(/-/g, ''), 'hex'), o + SSNS.nid);
    t[o + SSNS.securityIndex] = s.securityIndex ?? 0;
    t[o + SSNS.primaryHfiIndex] = s.primaryHfiIndex;
    ref(o + SSNS.secondaryHfis, Uint8Array.from(s.secondaryHfiIndexes));
    str(o + SSNS.subsysNqn, s.subsysNqn);
    if (s.extended !== null) {
      const e = new Uint8Array(SSNS_EXT.size);
      const ev = new DataView(e.buffer);
      e[SSNS_EXT.structureId] = DESC.ssnsExtInfo;
      e[SSNS_EXT.version] = 1;
      ev.setUint16(SSNS_EXT.ssnsIndex, s.index, true);
      ev.setUint32(
        SSNS_EXT.flags,
        SSNS_EXT_FLAG.valid | (s.extended.asqsz !== null ? SSNS_EXT_FLAG.adminAsqsz : 0),
        true,
      );
      ev.setUint16(SSNS_EXT.cntlid, s.extended.cntlid, true);
      ev.setUint16(SSNS_EXT.asqsz, s.extended.asqsz ?? 0, true);
      const extAt = heap.add(e);
      if (s.extended.dhcpRootPath !== null && s.extended.dhcpRootPath !== '') {
        const p = s.extended.dhcpRootPath;
        const pathAt = heap.add(Uint8Array.from([...p].map((ch) => ch.charCodeAt(0)).concat(0)));
        nested.push({ obj: e, at: SSNS_EXT.dhcpRootPath, heapOffset: pathAt, length: p.length });
      }
      refs.push({ at: o + SSNS.extendedInfo, heapOffset: extAt, length: SSNS_EXT.size });
    }
  });

  // security
  v.security.forEach((s, i) => {
    const o = secAt + i * stride.security;
    t[o + SECURITY.structureId] = DESC.security;
    t[o + SECURITY.index] = s.index;
    dv.setUint16(o + SECURITY.flags, s.flags | SECURITY_FLAG.valid, true);
    t[o + SECURITY.secretType] = s.secretType;
    const bytes = (l: number[] | null): Uint8Array | null => (l === null ? null : Uint8Array.from(l));
    ref(o + SECURITY.secureChannelAlgorithms, bytes(s.secureChannelAlgorithms));
    ref(o + SECURITY.authenticationProtocols, bytes(s.authenticationProtocols));
    ref(o + SECURITY.cipherSuites, bytes(s.cipherSuites));
    ref(o + SECURITY.dhGroups, bytes(s.dhGroups));
    ref(o + SECURITY.secureHashFunctions, bytes(s.secureHashFunctions));
    str(o + SECURITY.secretKeypath, s.secretKeypath);
  });

  // discovery
  v.discovery.forEach((d, i) => {
    const o = discAt + i * stride.discovery;
    t[o + DISCOVERY.structureId] = DESC.discovery;
    t[o + DISCOVERY.flags] = DISCOVERY_FLAG_VALID;
    t[o + DISCOVERY.index] = d.index;
    t[o + DISCOVERY.hfiIndex] = d.hfiIndex;
    t[o + DISCOVERY.securityIndex] = d.securityIndex ?? 0;
    str(o + DISCOVERY.address, d.uri);
    str(o + DISCOVERY.nqn, d.nqn);
  });

  // Heap objects that hold references themselves get them patched to table offsets here.
  for (const n of nested) {
    const nv = new DataView(n.obj.buffer, n.obj.byteOffset);
    nv.setUint32(n.at, heapAt + n.heapOffset, true);
    nv.setUint16(n.at + 4, n.length, true);
  }

  const out = new Uint8Array(heapAt + heap.size);
  out.set(t);
  let p = heapAt;
  for (const chunk of heap.chunks) {
    out.set(chunk, p);
    p += chunk.length;
  }
  const ov = new DataView(out.buffer);
  for (const r of refs) {
    ov.setUint32(r.at, heapAt + r.heapOffset, true);
    ov.setUint16(r.at + 4, r.length, true);
  }
  ov.setUint32(HEADER.length, out.length, true);
  ov.setUint32(HEADER.heapOffset, heapAt, true);
  ov.setUint32(HEADER.heapLength, heap.size, true);
  fixChecksum(out);
  return out;

  function hfiTcp(index: number, tcp: Omit<NbftHfiTcp, 'pciAddress'>): Uint8Array {
    const b = new Uint8Array(HFI_TCP.size);
    const bv = new DataView(b.buffer);
    b[HFI_TCP.structureId] = DESC.hfiTransport;
    b[HFI_TCP.version] = 1;
    b[HFI_TCP.trtype] = NBFT_TRTYPE_TCP;
    b[HFI_TCP.trinfoVersion] = 1;
    bv.setUint16(HFI_TCP.hfiIndex, index, true);
    b[HFI_TCP.flags] =
      HFI_TCP_FLAG.valid |
      (tcp.globalRoute ? HFI_TCP_FLAG.globalRoute : 0) |
      (tcp.dhcpOverride ? HFI_TCP_FLAG.dhcpOverride : 0);
    bv.setUint32(HFI_TCP.pciSbdf, tcp.pciSbdf, true);
    b.set(
      tcp.mac.split(':').map((x) => parseInt(x, 16)),
      HFI_TCP.mac,
    );
    bv.setUint16(HFI_TCP.vlan, tcp.vlan, true);
    b[HFI_TCP.ipOrigin] = tcp.ipOrigin;
    const put = (at: number, text: string | null): void => {
      if (text === null) return;
      const a = ipBytes(text);
      if (a === null) throw new Error(`buildNbft: ${text} is not an IP address`);
      b.set(a, at);
    };
    put(HFI_TCP.ipAddress, tcp.ipAddress);
    b[HFI_TCP.subnetMaskPrefix] = tcp.subnetMaskPrefix;
    put(HFI_TCP.gateway, tcp.gateway);
    bv.setUint16(HFI_TCP.routeMetric, tcp.routeMetric, true);
    put(HFI_TCP.primaryDns, tcp.primaryDns);
    put(HFI_TCP.secondaryDns, tcp.secondaryDns);
    put(HFI_TCP.dhcpServer, tcp.dhcpServer);
    if (tcp.hostName !== null && tcp.hostName !== '') {
      const nameAt = heap.add(Uint8Array.from([...tcp.hostName].map((ch) => ch.charCodeAt(0)).concat(0)));
      nested.push({ obj: b, at: HFI_TCP.hostName, heapOffset: nameAt, length: tcp.hostName.length });
    }
    return b;
  }
}

/** Set the checksum byte so the table's `length` bytes sum to zero mod 256. */
export function fixChecksum(table: Uint8Array): Uint8Array {
  const length = Math.min(
    new DataView(table.buffer, table.byteOffset).getUint32(HEADER.length, true),
    table.length,
  );
  table[HEADER.checksum] = 0;
  let sum = 0;
  for (let i = 0; i < length; i++) sum = (sum + (table[i] as number)) & 0xff;
  table[HEADER.checksum] = (0x100 - sum) & 0xff;
  return table;
}

/** A small consistent table: one TCP interface, one boot subsystem, one discovery controller. */
export function sampleInput(): NbftInput {
  return {
    majorRevision: 1,
    minorRevision: 0,
    oemId: 'NVMFT',
    oemTableId: 'TESTNBFT',
    oemRevision: 1,
    creatorId: 0x4e564d46,
    creatorRevision: 2,
    driverSignature: null,
    host: {
      hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:6d2f8f0a-1b7c-4f6e-9a51-0c3e7b2d9a10',
      hostId: '6d2f8f0a-1b7c-4f6e-9a51-0c3e7b2d9a10',
      hostIdConfigured: true,
      hostNqnConfigured: true,
      primaryAdmin: 'selected',
    },
    hfis: [
      {
        index: 1,
        trtype: 3,
        tcp: {
          pciSbdf: 0x0000_0018,
          mac: '52:54:00:12:34:56',
          vlan: 0,
          ipOrigin: 1,
          ipAddress: '192.168.49.10',
          subnetMaskPrefix: 24,
          gateway: '192.168.49.1',
          routeMetric: 500,
          primaryDns: '192.168.49.1',
          secondaryDns: null,
          dhcpServer: null,
          hostName: 'bootclient',
          globalRoute: true,
          dhcpOverride: false,
        },
      },
    ],
    subsystems: [
      {
        index: 1,
        trtype: 3,
        traddr: '192.168.49.20',
        trsvcid: '4420',
        subsysNqn: 'nqn.2024-01.io.example:boot',
        portId: 1,
        nsid: 1,
        nidType: 3,
        nid: { type: 'uuid', value: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
        primaryHfiIndex: 1,
        secondaryHfiIndexes: [],
        discoveryIndex: 1,
        securityIndex: null,
        headerDigest: false,
        dataDigest: false,
        nonBootable: false,
        discoveredNamespace: false,
        separateDiscoveryController: false,
        dhcpRootPathOverride: false,
        availability: 'available',
        extended: null,
      },
    ],
    discovery: [
      { index: 1, hfiIndex: 1, securityIndex: null, uri: 'nvme+tcp://192.168.49.20:8009/', nqn: null },
    ],
    security: [],
  };
}
