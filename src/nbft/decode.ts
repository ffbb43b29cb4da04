import { types } from 'node:util';
import { describe, invalidOption } from '../args.js';
import { NvmfError } from '../errors.js';
import { formatIp } from '../ip.js';
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
} from './layout.js';

/**
 * The decoded NBFT: what the pre-OS driver (UEFI) configured and connected to boot the host.
 * Indexes are the descriptors' own index fields, which is how descriptors refer to each other.
 * Descriptors whose Valid flag is clear are reserved slots and are left out.
 */
export interface NbftTable {
  /** The table's name as the caller gave it (the sysfs file name, e.g. `NBFT1`). */
  name: string;
  length: number;
  majorRevision: number;
  minorRevision: number;
  oemId: string;
  oemTableId: string;
  oemRevision: number;
  creatorId: number;
  creatorRevision: number;
  /** The driver signature heap object, hex; null when absent. */
  driverSignature: string | null;
  host: NbftHost;
  hfis: NbftHfi[];
  subsystems: NbftSubsystem[];
  discovery: NbftDiscovery[];
  security: NbftSecurity[];
  /**
   * Inconsistencies that leave the table readable (a reference to a descriptor that is not
   * there, a repeated index): each names the descriptor and field.
   */
  warnings: string[];
}

export type PrimaryAdmin = 'not-indicated' | 'unselected' | 'selected' | 'reserved';

export interface NbftHost {
  hostNqn: string;
  /** The 16-byte Host ID in UUID form; null when all zero. */
  hostId: string | null;
  hostIdConfigured: boolean;
  hostNqnConfigured: boolean;
  primaryAdmin: PrimaryAdmin;
}

export interface NbftHfi {
  index: number;
  trtype: number;
  /** `tcp` for transport type 3, the only one the specification defines; else null. */
  transport: 'tcp' | null;
  /** The NVMe/TCP transport info; null when the transport is not TCP or the info is absent or not valid. */
  tcp: NbftHfiTcp | null;
}

export interface NbftHfiTcp {
  /** PCI Express routing ID of the interface: segment << 16 | bus << 8 | device << 3 | function. */
  pciSbdf: number;
  /** The same as a PCI address, `ssss:bb:dd.f`. */
  pciAddress: string;
  /** EUI-48 MAC address, `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** VLAN ID, 0 for none. */
  vlan: number;
  /** Source of the IP configuration (Win32 NL_PREFIX_ORIGIN values), 0 if unused. */
  ipOrigin: number;
  ipAddress: string | null;
  subnetMaskPrefix: number;
  gateway: string | null;
  routeMetric: number;
  primaryDns: string | null;
  secondaryDns: string | null;
  /** The DHCP server that configured the interface; only when dhcpOverride is set. */
  dhcpServer: string | null;
  hostName: string | null;
  /** The pre-OS driver used this interface for its default route. */
  globalRoute: boolean;
  /** The interface was configured by DHCP. */
  dhcpOverride: boolean;
}

export type Availability = 'not-indicated' | 'available' | 'unavailable' | 'reserved';

export interface NbftNid {
  type: 'eui64' | 'nguid' | 'uuid';
  value: string;
}

export interface NbftSubsystem {
  index: number;
  trtype: number;
  transport: 'tcp' | null;
  traddr: string;
  /** null when the table gives none (the transport's default port applies). */
  trsvcid: string | null;
  subsysNqn: string;
  portId: number;
  /** 0 when not specified; then the NID identifies the namespace. */
  nsid: number;
  nidType: number;
  nid: NbftNid | null;
  primaryHfiIndex: number;
  secondaryHfiIndexes: number[];
  /** Index of the discovery descriptor this entry came from; null when none. */
  discoveryIndex: number | null;
  /** Index of the security profile; null unless the Use Security flag is set. */
  securityIndex: number | null;
  headerDigest: boolean;
  dataDigest: boolean;
  nonBootable: boolean;
  discoveredNamespace: boolean;
  separateDiscoveryController: boolean;
  dhcpRootPathOverride: boolean;
  availability: Availability;
  extended: NbftSubsystemExtended | null;
}

export interface NbftSubsystemExtended {
  cntlid: number;
  /** Admin submission queue size, when set administratively; else null. */
  asqsz: number | null;
  dhcpRootPath: string | null;
}

export interface NbftDiscovery {
  index: number;
  hfiIndex: number;
  securityIndex: number | null;
  /** Discovery controller URI (`nvme+tcp://addr:port/`); null when the table gives none. */
  uri: string | null;
  /** Discovery controller NQN; null means the well-known discovery NQN. */
  nqn: string | null;
}

export type PolicyState = 'not-supported' | 'not-required' | 'required' | 'reserved';
export type PolicySource = 'not-supported' | 'driver' | 'admin' | 'reserved';

export interface NbftSecurity {
  index: number;
  flags: number;
  secretType: number;
  inBandAuthentication: PolicyState;
  secureChannel: PolicyState;
  authenticationPolicy: PolicySource;
  securityPolicy: PolicySource;
  /** Byte lists from the heap; null when the flags say there is none. */
  secureChannelAlgorithms: number[] | null;
  authenticationProtocols: number[] | null;
  cipherSuites: number[] | null;
  dhGroups: number[] | null;
  secureHashFunctions: number[] | null;
  /** URI of the key (e.g. a Redfish key collection); the key itself is never in the table. */
  secretKeypath: string | null;
}

/** Longest NQN the NVMe base specification allows (bytes, without the terminator). */
const NQN_MAX = 223;
/** A transport service identifier fits the 32-byte TRSVCID field of a discovery log entry. */
const TRSVCID_MAX = 32;

interface HeapObject {
  offset: number;
  length: number;
}

/**
 * Decode one NBFT table. `name` (the sysfs file name) goes into every error and warning.
 * Bytes past the header's Length are ignored; everything is read inside Length, and every heap
 * reference inside the heap. A table that is truncated, fails its checksum, or has a field
 * that points outside the table or heap or holds bytes the specification forbids throws
 * NvmfError ENBFT naming the table and the field. Never any other exception for any bytes.
 */
export function decodeNbft(bytes: Uint8Array, name = 'NBFT'): NbftTable {
  if (!types.isUint8Array(bytes))
    throw invalidOption('decodeNbft', `expected the table as a Uint8Array, got ${describe(bytes)}`);
  if (typeof name !== 'string' || name === '')
    throw invalidOption('decodeNbft', `expected the table name as a string, got ${describe(name)}`);
  return new Decoder(bytes, name).table();
}

class Decoder {
  private readonly view: DataView;
  private length = 0;
  private heapStart = 0;
  private heapEnd = 0;
  private readonly warnings: string[] = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly name: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(field: string, message: string): NvmfError {
    return new NvmfError('ENBFT', `NBFT table ${this.name}: ${field}: ${message}`, {
      table: this.name,
      field,
    });
  }

  private warn(field: string, message: string): void {
    this.warnings.push(`${field}: ${message}`);
  }

  /** Bounds check of a read at [off, off + size) against the table (Length, once known). */
  private need(off: number, size: number, field: string): void {
    const limit = this.length === 0 ? this.bytes.byteLength : this.length;
    if (off < 0 || off + size > limit)
      throw this.fail(
        field,
        `reading ${size} bytes at offset ${off} runs past the end of the table (${limit} bytes)`,
      );
  }

  private u8(off: number, field: string): number {
    this.need(off, 1, field);
    return this.view.getUint8(off);
  }

  private u16(off: number, field: string): number {
    this.need(off, 2, field);
    return this.view.getUint16(off, true);
  }

  private u32(off: number, field: string): number {
    this.need(off, 4, field);
    return this.view.getUint32(off, true);
  }

  private raw(off: number, size: number, field: string): Uint8Array {
    this.need(off, size, field);
    return this.bytes.subarray(off, off + size);
  }

  /**
   * The header's fixed-size OEM text fields: up to the first NUL, trailing spaces trimmed.
   * They identify the firmware and nothing depends on them, so a byte that is not printable
   * ASCII is shown as `\xNN` instead of failing the table.
   */
  private oemText(off: number, size: number, field: string): string {
    const b = this.raw(off, size, field);
    let end = b.indexOf(0);
    if (end < 0) end = b.length;
    while (end > 0 && b[end - 1] === 0x20) end--;
    let s = '';
    for (const c of b.subarray(0, end))
      s +=
        c >= 0x20 && c <= 0x7e && c !== 0x5c
          ? String.fromCharCode(c)
          : `\\x${c.toString(16).padStart(2, '0')}`;
    return s;
  }

  /** Printable ASCII up to the first NUL (heap strings); any other byte fails the table. */
  private ascii(b: Uint8Array, field: string): string {
    let end = b.indexOf(0);
    if (end < 0) end = b.length;
    let s = '';
    for (let i = 0; i < end; i++) {
      const c = b[i] as number;
      if (c < 0x20 || c > 0x7e)
        throw this.fail(
          field,
          `byte 0x${c.toString(16).padStart(2, '0')} at position ${i} is not printable ASCII`,
        );
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** The heap object a reference at `off` names, bounds-checked against the heap; null for length 0. */
  private heapRef(off: number, field: string): HeapObject | null {
    const offset = this.u32(off, field);
    const length = this.u16(off + 4, field);
    if (length === 0) return null;
    if (offset < this.heapStart || offset + length > this.heapEnd) {
      throw this.fail(
        field,
        `heap object at offset ${offset} with length ${length} lies outside the heap (offsets ${this.heapStart}-${this.heapEnd})`,
      );
    }
    return { offset, length };
  }

  private heapString(off: number, field: string): string | null {
    const obj = this.heapRef(off, field);
    return obj === null ? null : this.ascii(this.raw(obj.offset, obj.length, field), field);
  }

  private heapBytes(off: number, field: string): number[] | null {
    const obj = this.heapRef(off, field);
    return obj === null ? null : [...this.raw(obj.offset, obj.length, field)];
  }

  private requiredString(off: number, field: string, max: number): string {
    const s = this.heapString(off, field);
    if (s === null || s === '') throw this.fail(field, 'missing (no heap object, or an empty string)');
    if (s.length > max) throw this.fail(field, `${s.length} bytes long, longer than the ${max} allowed`);
    return s;
  }

  private ip(off: number, field: string): string | null {
    const b = this.raw(off, 16, field);
    return b.every((x) => x === 0) ? null : formatIp(b);
  }

  table(): NbftTable {
    const size = this.bytes.byteLength;
    if (size < HEADER.size)
      throw this.fail('header', `truncated: ${size} bytes, the header alone is ${HEADER.size}`);
    const signature = String.fromCharCode(...this.raw(HEADER.signature, 4, 'signature'));
    if (signature !== NBFT_SIGNATURE)
      throw this.fail(
        'signature',
        `${JSON.stringify(signature)} is not "${NBFT_SIGNATURE}"; this is not an NBFT table`,
      );
    const length = this.u32(HEADER.length, 'length');
    if (length < CONTROL.offset + CONTROL.size)
      throw this.fail(
        'length',
        `${length} bytes cannot hold the header and control descriptor (${CONTROL.offset + CONTROL.size})`,
      );
    if (length > size)
      throw this.fail('length', `truncated: the header says ${length} bytes, only ${size} are there`);
    this.length = length;
    let sum = 0;
    for (let i = 0; i < length; i++) sum = (sum + (this.bytes[i] as number)) & 0xff;
    if (sum !== 0)
      throw this.fail('checksum', `the ${length} bytes sum to 0x${sum.toString(16)} mod 256, not 0`);
    const majorRevision = this.u8(HEADER.majorRevision, 'major revision');
    if (majorRevision !== NBFT_MAJOR_REVISION)
      throw this.fail('major revision', `${majorRevision} is not supported (only ${NBFT_MAJOR_REVISION})`);
    const heapOffset = this.u32(HEADER.heapOffset, 'heap offset');
    const heapLength = this.u32(HEADER.heapLength, 'heap length');
    if (heapOffset + heapLength > length)
      throw this.fail(
        'heap',
        `offset ${heapOffset} + length ${heapLength} runs past the table (${length} bytes)`,
      );
    this.heapStart = heapOffset;
    this.heapEnd = heapOffset + heapLength;
    const driverSignature = this.heapRef(HEADER.driverSignature, 'driver signature');

    const c = CONTROL.offset;
    if (this.u8(c + CONTROL.structureId, 'control structure ID') !== DESC.control)
      throw this.fail('control structure ID', `${this.u8(c, 'control structure ID')} is not ${DESC.control}`);
    if ((this.u8(c + CONTROL.flags, 'control flags') & CONTROL_FLAG_VALID) === 0)
      throw this.fail('control flags', 'the Block Valid flag is clear; the table describes nothing');

    const host = this.host(this.u32(c + CONTROL.hostDescriptor, 'host descriptor offset'));
    const hfis = this.list(
      c + CONTROL.hfiOffset,
      c + CONTROL.hfiLength,
      c + CONTROL.hfiCount,
      HFI.size,
      'HFI',
      (o, i) => this.hfi(o, i),
    );
    const security = this.list(
      c + CONTROL.securityOffset,
      c + CONTROL.securityLength,
      c + CONTROL.securityCount,
      SECURITY.size,
      'security',
      (o, i) => this.security(o, i),
    );
    const discovery = this.list(
      c + CONTROL.discoveryOffset,
      c + CONTROL.discoveryLength,
      c + CONTROL.discoveryCount,
      DISCOVERY.size,
      'discovery',
      (o, i) => this.discovery(o, i),
    );
    const subsystems = this.list(
      c + CONTROL.ssnsOffset,
      c + CONTROL.ssnsLength,
      c + CONTROL.ssnsCount,
      SSNS.size,
      'SSNS',
      (o, i) => this.ssns(o, i),
    );
    this.crossCheck(hfis, subsystems, discovery, security);

    return {
      name: this.name,
      length,
      majorRevision,
      minorRevision: this.u8(HEADER.minorRevision, 'minor revision'),
      oemId: this.oemText(HEADER.oemId, 6, 'OEM ID'),
      oemTableId: this.oemText(HEADER.oemTableId, 8, 'OEM table ID'),
      oemRevision: this.u32(HEADER.oemRevision, 'OEM revision'),
      creatorId: this.u32(HEADER.creatorId, 'creator ID'),
      creatorRevision: this.u32(HEADER.creatorRevision, 'creator revision'),
      driverSignature:
        driverSignature === null
          ? null
          : Buffer.from(
              this.raw(driverSignature.offset, driverSignature.length, 'driver signature'),
            ).toString('hex'),
      host,
      hfis,
      subsystems,
      discovery,
      security,
      warnings: this.warnings,
    };
  }

  /**
   * A descriptor list: `count` descriptors of `stride` bytes from `offset`. Each must lie in
   * the table and be at least the revision 1.0 size; a larger stride (a later minor revision)
   * is stepped over. Descriptors whose decoder returns null (Valid clear) are left out.
   */
  private list<T>(
    offsetAt: number,
    strideAt: number,
    countAt: number,
    minStride: number,
    kind: string,
    decode: (off: number, position: number) => T | null,
  ): T[] {
    const count = this.u8(countAt, `${kind} descriptor count`);
    if (count === 0) return [];
    const offset = this.u32(offsetAt, `${kind} descriptor list offset`);
    const stride = this.u16(strideAt, `${kind} descriptor length`);
    if (stride < minStride)
      throw this.fail(
        `${kind} descriptor length`,
        `${stride} bytes is shorter than the ${minStride} of a ${kind} descriptor`,
      );
    if (offset < HEADER.size || offset + count * stride > this.length) {
      throw this.fail(
        `${kind} descriptor list offset`,
        `${count} descriptors of ${stride} bytes at offset ${offset} do not fit between the header and the end of the table (${this.length} bytes)`,
      );
    }
    const out: T[] = [];
    for (let i = 0; i < count; i++) {
      const d = decode(offset + i * stride, i);
      if (d !== null) out.push(d);
    }
    return out;
  }

  private structure(off: number, expected: number, field: string): void {
    const id = this.u8(off, `${field} structure ID`);
    if (id !== expected) throw this.fail(`${field} structure ID`, `${id} is not ${expected}`);
  }

  private host(off: number): NbftHost {
    if (off < HEADER.size || off + HOST.size > this.length) {
      throw this.fail(
        'host descriptor offset',
        `a ${HOST.size}-byte descriptor at offset ${off} does not fit between the header and the end of the table (${this.length} bytes)`,
      );
    }
    this.structure(off + HOST.structureId, DESC.host, 'host descriptor');
    const flags = this.u8(off + HOST.flags, 'host descriptor flags');
    if ((flags & HOST_FLAG.valid) === 0) throw this.fail('host descriptor flags', 'the Valid flag is clear');
    const id = this.raw(off + HOST.hostId, 16, 'host ID');
    const admin = (['not-indicated', 'unselected', 'selected', 'reserved'] as const)[
      (flags & HOST_FLAG.primaryAdminMask) >> HOST_FLAG.primaryAdminShift
    ] as PrimaryAdmin;
    return {
      hostNqn: this.requiredString(off + HOST.hostNqn, 'host NQN', NQN_MAX),
      hostId: id.every((b) => b === 0) ? null : uuidText(id),
      hostIdConfigured: (flags & HOST_FLAG.hostIdConfigured) !== 0,
      hostNqnConfigured: (flags & HOST_FLAG.hostNqnConfigured) !== 0,
      primaryAdmin: admin,
    };
  }

  private hfi(off: number, position: number): NbftHfi | null {
    const where = `HFI descriptor ${position}`;
    if ((this.u8(off + HFI.flags, `${where} flags`) & HFI_FLAG_VALID) === 0) return null;
    this.structure(off + HFI.structureId, DESC.hfi, where);
    const index = this.u8(off + HFI.index, `${where} index`);
    const trtype = this.u8(off + HFI.trtype, `${where} transport type`);
    if (trtype !== NBFT_TRTYPE_TCP) {
      this.warn(`${where} transport type`, `${trtype} is not defined by the NBFT specification`);
      return { index, trtype, transport: null, tcp: null };
    }
    const info = this.heapRef(off + HFI.transportInfo, `${where} transport info`);
    if (info === null) {
      this.warn(`${where} transport info`, 'absent');
      return { index, trtype, transport: 'tcp', tcp: null };
    }
    return { index, trtype, transport: 'tcp', tcp: this.hfiTcp(info, index, `${where} transport info`) };
  }

  private hfiTcp(obj: HeapObject, hfiIndex: number, where: string): NbftHfiTcp | null {
    if (obj.length < HFI_TCP.minSize)
      throw this.fail(
        where,
        `${obj.length} bytes is shorter than the ${HFI_TCP.minSize} of a TCP transport info descriptor`,
      );
    const o = obj.offset;
    const flags = this.u8(o + HFI_TCP.flags, `${where} flags`);
    if ((flags & HFI_TCP_FLAG.valid) === 0) {
      this.warn(`${where} flags`, 'the Valid flag is clear');
      return null;
    }
    this.structure(o + HFI_TCP.structureId, DESC.hfiTransport, where);
    const version = this.u8(o + HFI_TCP.version, `${where} version`);
    if (version !== 1) throw this.fail(`${where} version`, `${version} is not 1`);
    const trtype = this.u8(o + HFI_TCP.trtype, `${where} transport type`);
    if (trtype !== NBFT_TRTYPE_TCP)
      throw this.fail(`${where} transport type`, `${trtype} is not TCP (${NBFT_TRTYPE_TCP})`);
    const ownIndex = this.u16(o + HFI_TCP.hfiIndex, `${where} HFI index`);
    if (ownIndex !== hfiIndex)
      this.warn(`${where} HFI index`, `${ownIndex} differs from its HFI descriptor's index ${hfiIndex}`);
    const sbdf = this.u32(o + HFI_TCP.pciSbdf, `${where} PCI SBDF`);
    const dhcpOverride = (flags & HFI_TCP_FLAG.dhcpOverride) !== 0;
    return {
      pciSbdf: sbdf,
      pciAddress: pciAddress(sbdf),
      mac: [...this.raw(o + HFI_TCP.mac, 6, `${where} MAC address`)]
        .map((b) => b.toString(16).padStart(2, '0'))
        .join(':'),
      vlan: this.u16(o + HFI_TCP.vlan, `${where} VLAN`),
      ipOrigin: this.u8(o + HFI_TCP.ipOrigin, `${where} IP origin`),
      ipAddress: this.ip(o + HFI_TCP.ipAddress, `${where} IP address`),
      subnetMaskPrefix: this.u8(o + HFI_TCP.subnetMaskPrefix, `${where} subnet mask prefix`),
      gateway: this.ip(o + HFI_TCP.gateway, `${where} gateway`),
      routeMetric: this.u16(o + HFI_TCP.routeMetric, `${where} route metric`),
      primaryDns: this.ip(o + HFI_TCP.primaryDns, `${where} primary DNS`),
      secondaryDns: this.ip(o + HFI_TCP.secondaryDns, `${where} secondary DNS`),
      dhcpServer: dhcpOverride ? this.ip(o + HFI_TCP.dhcpServer, `${where} DHCP server`) : null,
      hostName: this.heapString(o + HFI_TCP.hostName, `${where} host name`),
      globalRoute: (flags & HFI_TCP_FLAG.globalRoute) !== 0,
      dhcpOverride,
    };
  }

  private ssns(off: number, position: number): NbftSubsystem | null {
    const where = `SSNS descriptor ${position}`;
    const flags = this.u16(off + SSNS.flags, `${where} flags`);
    if ((flags & SSNS_FLAG.valid) === 0) return null;
    this.structure(off + SSNS.structureId, DESC.ssns, where);
    const index = this.u16(off + SSNS.index, `${where} index`);
    const trtype = this.u8(off + SSNS.trtype, `${where} transport type`);
    if (trtype !== NBFT_TRTYPE_TCP)
      this.warn(`${where} transport type`, `${trtype} is not defined by the NBFT specification`);
    const trflags = this.u16(off + SSNS.trflags, `${where} transport flags`);
    const addr = this.heapRef(off + SSNS.traddr, `${where} transport address`);
    if (addr === null) throw this.fail(`${where} transport address`, 'missing');
    if (addr.length < 16)
      throw this.fail(`${where} transport address`, `${addr.length} bytes cannot hold a 16-byte IP address`);
    const trsvcid = this.heapString(off + SSNS.trsvcid, `${where} transport service ID`);
    if (trsvcid !== null && trsvcid.length > TRSVCID_MAX)
      throw this.fail(
        `${where} transport service ID`,
        `${trsvcid.length} bytes long, longer than ${TRSVCID_MAX}`,
      );
    const nidType = this.u8(off + SSNS.nidt, `${where} NID type`);
    const discoveryIndex = this.u8(off + SSNS.primaryDiscoveryIndex, `${where} discovery index`);
    const securityIndex = this.u8(off + SSNS.securityIndex, `${where} security index`);
    const secondary = this.heapBytes(off + SSNS.secondaryHfis, `${where} secondary HFI associations`) ?? [];
    let extended: NbftSubsystemExtended | null = null;
    if ((flags & SSNS_FLAG.extendedInfoInUse) !== 0) {
      const ext = this.heapRef(off + SSNS.extendedInfo, `${where} extended info`);
      if (ext === null) this.warn(`${where} extended info`, 'in use by the flags, but absent');
      else extended = this.ssnsExt(ext, index, `${where} extended info`);
    }
    return {
      index,
      trtype,
      transport: trtype === NBFT_TRTYPE_TCP ? 'tcp' : null,
      traddr: formatIp(this.raw(addr.offset, 16, `${where} transport address`)),
      trsvcid: trsvcid === '' ? null : trsvcid,
      subsysNqn: this.requiredString(off + SSNS.subsysNqn, `${where} subsystem NQN`, NQN_MAX),
      portId: this.u16(off + SSNS.portId, `${where} port ID`),
      nsid: this.u32(off + SSNS.nsid, `${where} NSID`),
      nidType,
      nid: nid(nidType, this.raw(off + SSNS.nid, 16, `${where} NID`)),
      primaryHfiIndex: this.u8(off + SSNS.primaryHfiIndex, `${where} primary HFI index`),
      secondaryHfiIndexes: secondary,
      discoveryIndex: discoveryIndex === 0 ? null : discoveryIndex,
      securityIndex: (flags & SSNS_FLAG.useSecurity) !== 0 ? securityIndex : null,
      headerDigest: (trflags & SSNS_TRFLAG.headerDigest) !== 0,
      dataDigest: (trflags & SSNS_TRFLAG.dataDigest) !== 0,
      nonBootable: (flags & SSNS_FLAG.nonBootable) !== 0,
      discoveredNamespace: (flags & SSNS_FLAG.discoveredNamespace) !== 0,
      separateDiscoveryController: (flags & SSNS_FLAG.separateDiscoveryController) !== 0,
      dhcpRootPathOverride: (flags & SSNS_FLAG.dhcpRootPathOverride) !== 0,
      availability: (['not-indicated', 'available', 'unavailable', 'reserved'] as const)[
        (flags & SSNS_FLAG.unavailableMask) >> SSNS_FLAG.unavailableShift
      ] as Availability,
      extended,
    };
  }

  private ssnsExt(obj: HeapObject, ssnsIndex: number, where: string): NbftSubsystemExtended | null {
    if (obj.length < SSNS_EXT.size)
      throw this.fail(
        where,
        `${obj.length} bytes is shorter than the ${SSNS_EXT.size} of an extended info descriptor`,
      );
    const o = obj.offset;
    const flags = this.u32(o + SSNS_EXT.flags, `${where} flags`);
    if ((flags & SSNS_EXT_FLAG.valid) === 0) {
      this.warn(`${where} flags`, 'the Valid flag is clear');
      return null;
    }
    this.structure(o + SSNS_EXT.structureId, DESC.ssnsExtInfo, where);
    const version = this.u8(o + SSNS_EXT.version, `${where} version`);
    if (version !== 1) throw this.fail(`${where} version`, `${version} is not 1`);
    const own = this.u16(o + SSNS_EXT.ssnsIndex, `${where} SSNS index`);
    if (own !== ssnsIndex)
      throw this.fail(`${where} SSNS index`, `${own} differs from its SSNS descriptor's index ${ssnsIndex}`);
    return {
      cntlid: this.u16(o + SSNS_EXT.cntlid, `${where} controller ID`),
      asqsz: (flags & SSNS_EXT_FLAG.adminAsqsz) !== 0 ? this.u16(o + SSNS_EXT.asqsz, `${where} ASQSZ`) : null,
      dhcpRootPath: this.heapString(o + SSNS_EXT.dhcpRootPath, `${where} DHCP root path`),
    };
  }

  private discovery(off: number, position: number): NbftDiscovery | null {
    const where = `discovery descriptor ${position}`;
    if ((this.u8(off + DISCOVERY.flags, `${where} flags`) & DISCOVERY_FLAG_VALID) === 0) return null;
    this.structure(off + DISCOVERY.structureId, DESC.discovery, where);
    const nqn = this.heapString(off + DISCOVERY.nqn, `${where} NQN`);
    if (nqn !== null && nqn.length > NQN_MAX)
      throw this.fail(`${where} NQN`, `${nqn.length} bytes long, longer than the ${NQN_MAX} allowed`);
    const securityIndex = this.u8(off + DISCOVERY.securityIndex, `${where} security index`);
    const uri = this.heapString(off + DISCOVERY.address, `${where} controller address`);
    return {
      index: this.u8(off + DISCOVERY.index, `${where} index`),
      hfiIndex: this.u8(off + DISCOVERY.hfiIndex, `${where} HFI index`),
      securityIndex: securityIndex === 0 ? null : securityIndex,
      uri: uri === '' ? null : uri,
      nqn: nqn === '' ? null : nqn,
    };
  }

  private security(off: number, position: number): NbftSecurity | null {
    const where = `security descriptor ${position}`;
    const flags = this.u16(off + SECURITY.flags, `${where} flags`);
    if ((flags & SECURITY_FLAG.valid) === 0) return null;
    this.structure(off + SECURITY.structureId, DESC.security, where);
    const state = (mask: number, shift: number): PolicyState =>
      (['not-supported', 'not-required', 'required', 'reserved'] as const)[
        (flags & mask) >> shift
      ] as PolicyState;
    const source = (mask: number, shift: number): PolicySource =>
      (['not-supported', 'driver', 'admin', 'reserved'] as const)[(flags & mask) >> shift] as PolicySource;
    const authenticationPolicy = source(SECURITY_FLAG.authPolicyListMask, SECURITY_FLAG.authPolicyListShift);
    const securityPolicy = source(
      SECURITY_FLAG.securityPolicyListMask,
      SECURITY_FLAG.securityPolicyListShift,
    );
    // A list's heap reference is reserved unless its flag says the list is there.
    const list = (on: boolean, at: number, field: string): number[] | null =>
      on ? this.heapBytes(off + at, `${where} ${field}`) : null;
    return {
      index: this.u8(off + SECURITY.index, `${where} index`),
      flags,
      secretType: this.u8(off + SECURITY.secretType, `${where} secret type`),
      inBandAuthentication: state(SECURITY_FLAG.inBandAuthMask, SECURITY_FLAG.inBandAuthShift),
      secureChannel: state(SECURITY_FLAG.secureChannelMask, SECURITY_FLAG.secureChannelShift),
      authenticationPolicy,
      securityPolicy,
      secureChannelAlgorithms: list(
        securityPolicy !== 'not-supported',
        SECURITY.secureChannelAlgorithms,
        'secure channel algorithms',
      ),
      authenticationProtocols: list(
        authenticationPolicy !== 'not-supported',
        SECURITY.authenticationProtocols,
        'authentication protocols',
      ),
      cipherSuites: list(
        (flags & SECURITY_FLAG.cipherSuitesRestricted) !== 0,
        SECURITY.cipherSuites,
        'cipher suites',
      ),
      dhGroups: list((flags & SECURITY_FLAG.dhGroupsRestricted) !== 0, SECURITY.dhGroups, 'DH groups'),
      secureHashFunctions: list(
        (flags & SECURITY_FLAG.secureHashPolicyList) !== 0,
        SECURITY.secureHashFunctions,
        'secure hash functions',
      ),
      secretKeypath: this.heapString(off + SECURITY.secretKeypath, `${where} secret keypath`),
    };
  }

  /** References between descriptors: a dangling or repeated index is a warning, not a failure. */
  private crossCheck(
    hfis: NbftHfi[],
    ssns: NbftSubsystem[],
    disc: NbftDiscovery[],
    sec: NbftSecurity[],
  ): void {
    const indexes = (kind: string, items: { index: number }[]): Set<number> => {
      const seen = new Set<number>();
      for (const it of items) {
        if (seen.has(it.index))
          this.warn(`${kind} index ${it.index}`, 'used by more than one valid descriptor');
        seen.add(it.index);
      }
      return seen;
    };
    const hfiSet = indexes('HFI', hfis);
    const discSet = indexes('discovery', disc);
    const secSet = indexes('security', sec);
    indexes('SSNS', ssns);
    for (const s of ssns) {
      const where = `SSNS ${s.index}`;
      if (!hfiSet.has(s.primaryHfiIndex))
        this.warn(`${where} primary HFI index`, `no valid HFI descriptor has index ${s.primaryHfiIndex}`);
      for (const h of s.secondaryHfiIndexes)
        if (h !== 0 && !hfiSet.has(h))
          this.warn(`${where} secondary HFI associations`, `no valid HFI descriptor has index ${h}`);
      if (s.discoveryIndex !== null && !discSet.has(s.discoveryIndex))
        this.warn(`${where} discovery index`, `no valid discovery descriptor has index ${s.discoveryIndex}`);
      if (s.securityIndex !== null && !secSet.has(s.securityIndex))
        this.warn(`${where} security index`, `no valid security descriptor has index ${s.securityIndex}`);
    }
    for (const d of disc) {
      const where = `discovery ${d.index}`;
      if (!hfiSet.has(d.hfiIndex))
        this.warn(`${where} HFI index`, `no valid HFI descriptor has index ${d.hfiIndex}`);
      if (d.securityIndex !== null && !secSet.has(d.securityIndex))
        this.warn(`${where} security index`, `no valid security descriptor has index ${d.securityIndex}`);
    }
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function uuidText(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The namespace identifier by its NIDT (NVMe base specification: 1 EUI-64, 2 NGUID, 3 UUID). */
function nid(type: number, b: Uint8Array): NbftNid | null {
  switch (type) {
    case 1:
      return { type: 'eui64', value: hex(b.subarray(0, 8)) };
    case 2:
      return { type: 'nguid', value: hex(b) };
    case 3:
      return { type: 'uuid', value: uuidText(b) };
    default:
      return null;
  }
}

function pciAddress(sbdf: number): string {
  const seg = (sbdf >>> 16).toString(16).padStart(4, '0');
  const bus = ((sbdf >>> 8) & 0xff).toString(16).padStart(2, '0');
  const dev = ((sbdf >>> 3) & 0x1f).toString(16).padStart(2, '0');
  return `${seg}:${bus}:${dev}.${sbdf & 0x7}`;
}
