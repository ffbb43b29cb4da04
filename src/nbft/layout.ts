/**
 * Byte layout of the ACPI NBFT table (NVM Express Boot Specification 1.0, the "NVMe-oF Boot
 * Firmware Table"). All integers are little-endian. A heap object reference is a u32 offset
 * from the start of the table plus a u16 length; length 0 means "no object". Offsets below
 * are relative to the start of their structure. The decoder and the test encoder share
 * these numbers; nothing else about the format is written down twice.
 */

export const NBFT_SIGNATURE = 'NBFT';
export const NBFT_MAJOR_REVISION = 1;

/** Structure IDs (first byte of every descriptor). */
export const DESC = {
  header: 0,
  control: 1,
  host: 2,
  hfi: 3,
  ssns: 4,
  security: 5,
  discovery: 6,
  hfiTransport: 7,
  ssnsExtInfo: 9,
} as const;

/** Transport types of HFI and SSNS descriptors; the specification defines only TCP. */
export const NBFT_TRTYPE_TCP = 3;

/** Size of a heap object reference: u32 offset, u16 length. */
export const HEAP_REF_SIZE = 6;

/** Table header: the 36-byte ACPI system description header, then NBFT fields. 64 bytes. */
export const HEADER = {
  size: 64,
  signature: 0, // 4 ASCII bytes
  length: 4, // u32: whole table, header included
  majorRevision: 8,
  checksum: 9, // all `length` bytes sum to 0 mod 256
  oemId: 10, // 6 bytes
  oemTableId: 16, // 8 bytes
  oemRevision: 24, // u32
  creatorId: 28, // u32
  creatorRevision: 32, // u32
  heapOffset: 36, // u32, from the start of the table
  heapLength: 40, // u32
  driverSignature: 44, // heap ref
  minorRevision: 50,
} as const;

/** Control descriptor, directly after the header. 64 bytes in revision 1.0. */
export const CONTROL = {
  offset: 64,
  size: 64,
  structureId: 0,
  majorRevision: 1,
  minorRevision: 2,
  csl: 4, // u16: length of this descriptor
  flags: 6, // bit 0: block valid
  hostDescriptor: 8, // heap-ref-shaped: u32 offset, u16 length
  hostVersion: 14,
  hfiOffset: 16, // u32
  hfiLength: 20, // u16: length of each HFI descriptor
  hfiVersion: 22,
  hfiCount: 23,
  ssnsOffset: 24,
  ssnsLength: 28,
  ssnsVersion: 30,
  ssnsCount: 31,
  securityOffset: 32,
  securityLength: 36,
  securityVersion: 38,
  securityCount: 39,
  discoveryOffset: 40,
  discoveryLength: 44,
  discoveryVersion: 46,
  discoveryCount: 47,
} as const;

export const CONTROL_FLAG_VALID = 0x01;

/** Host descriptor. 32 bytes. */
export const HOST = {
  size: 32,
  structureId: 0,
  flags: 1,
  hostId: 2, // 16 bytes
  hostNqn: 18, // heap ref
} as const;

export const HOST_FLAG = {
  valid: 0x01,
  hostIdConfigured: 0x02,
  hostNqnConfigured: 0x04,
  primaryAdminMask: 0x18,
  primaryAdminShift: 3,
} as const;

/** Host Fabric Interface descriptor. 32 bytes. */
export const HFI = {
  size: 32,
  structureId: 0,
  index: 1,
  flags: 2, // bit 0: valid
  trtype: 3,
  transportInfo: 16, // heap ref to the HFI transport info descriptor
} as const;

export const HFI_FLAG_VALID = 0x01;

/** HFI transport info descriptor for NVMe/TCP (a heap object). 128 bytes in revision 1.0. */
export const HFI_TCP = {
  size: 128,
  /** The fields the decoder reads end here; a shorter object is corrupt. */
  minSize: 110,
  structureId: 0,
  version: 1,
  trtype: 2,
  trinfoVersion: 3,
  hfiIndex: 4, // u16
  flags: 6,
  pciSbdf: 7, // u32, unaligned
  mac: 11, // 6 bytes
  vlan: 17, // u16
  ipOrigin: 19,
  ipAddress: 20, // 16 bytes, IPv4 as IPv4-mapped IPv6
  subnetMaskPrefix: 36,
  gateway: 37, // 16 bytes
  routeMetric: 54, // u16
  primaryDns: 56, // 16 bytes
  secondaryDns: 72, // 16 bytes
  dhcpServer: 88, // 16 bytes
  hostName: 104, // heap ref
} as const;

export const HFI_TCP_FLAG = { valid: 0x01, globalRoute: 0x02, dhcpOverride: 0x04 } as const;

/** Subsystem namespace (SSNS) descriptor. 128 bytes. */
export const SSNS = {
  size: 128,
  structureId: 0,
  index: 1, // u16
  flags: 3, // u16
  trtype: 5,
  trflags: 6, // u16
  primaryDiscoveryIndex: 8,
  traddr: 10, // heap ref: 16-byte IP address
  trsvcid: 16, // heap ref: string
  portId: 22, // u16
  nsid: 24, // u32
  nidt: 28,
  nid: 29, // 16 bytes
  securityIndex: 45,
  primaryHfiIndex: 46,
  secondaryHfis: 48, // heap ref: array of HFI indexes
  subsysNqn: 54, // heap ref: string
  extendedInfo: 60, // heap ref: SSNS extended info descriptor
} as const;

export const SSNS_FLAG = {
  valid: 0x0001,
  nonBootable: 0x0002,
  useSecurity: 0x0004,
  dhcpRootPathOverride: 0x0008,
  extendedInfoInUse: 0x0010,
  separateDiscoveryController: 0x0020,
  discoveredNamespace: 0x0040,
  unavailableMask: 0x0180,
  unavailableShift: 7,
} as const;

export const SSNS_TRFLAG = { valid: 0x01, headerDigest: 0x02, dataDigest: 0x04 } as const;

/** SSNS extended info descriptor (a heap object). 18 bytes in revision 1.0. */
export const SSNS_EXT = {
  size: 18,
  structureId: 0,
  version: 1,
  ssnsIndex: 2, // u16
  flags: 4, // u32
  cntlid: 8, // u16
  asqsz: 10, // u16
  dhcpRootPath: 12, // heap ref: string
} as const;

export const SSNS_EXT_FLAG = { valid: 0x01, adminAsqsz: 0x02 } as const;

/** Security profile descriptor. 64 bytes. */
export const SECURITY = {
  size: 64,
  structureId: 0,
  index: 1,
  flags: 2, // u16
  secretType: 4,
  secureChannelAlgorithms: 6, // heap ref: byte list
  authenticationProtocols: 12,
  cipherSuites: 18,
  dhGroups: 24,
  secureHashFunctions: 30,
  secretKeypath: 36, // heap ref: URI string
} as const;

export const SECURITY_FLAG = {
  valid: 0x0001,
  inBandAuthMask: 0x0006,
  inBandAuthShift: 1,
  authPolicyListMask: 0x0018,
  authPolicyListShift: 3,
  secureChannelMask: 0x0060,
  secureChannelShift: 5,
  securityPolicyListMask: 0x0180,
  securityPolicyListShift: 7,
  cipherSuitesRestricted: 0x0200,
  dhGroupsRestricted: 0x0400,
  secureHashPolicyList: 0x0800,
} as const;

/** Discovery descriptor. 32 bytes. */
export const DISCOVERY = {
  size: 32,
  structureId: 0,
  flags: 1, // bit 0: valid
  index: 2,
  hfiIndex: 3,
  securityIndex: 4,
  address: 6, // heap ref: URI string
  nqn: 12, // heap ref: string
} as const;

export const DISCOVERY_FLAG_VALID = 0x01;
