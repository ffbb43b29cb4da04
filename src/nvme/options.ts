import { checkString } from '../args.js';
import type { OptionFormat } from './formats.js';
import { DISCOVERY_NQN } from './nqn.js';

export type { OptionFormat } from './formats.js';

/**
 * The connect options of the Linux fabrics interface (`/dev/nvme-fabrics`): one table that
 * says, for each, its kernel name, type, command-line flag, the transports it applies to,
 * how its value is validated, and how discovery passes it on. The engine's parser, the
 * CLI's flags, discover and connect-all all read this table; nothing else lists options.
 */

/** The fabrics transports, as the kernel names them. */
export const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The well-known ports of NVMe over TCP and RDMA: I/O and discovery. */
export const DEFAULT_IO_PORT = '4420';
export const DEFAULT_DISCOVERY_PORT = '8009';

/** The port a tcp or rdma connect to `nqn` uses when none is given. */
export function defaultPort(nqn: string): string {
  return nqn === DISCOVERY_NQN ? DEFAULT_DISCOVERY_PORT : DEFAULT_IO_PORT;
}

/** Parsed connect options, keyed by their kernel names. */
export interface ConnectOptions {
  transport: Transport;
  /** Subsystem NQN. */
  nqn: string;
  traddr?: string;
  trsvcid?: string;
  host_traddr?: string;
  host_iface?: string;
  hostnqn?: string;
  hostid?: string;
  nr_io_queues?: number;
  nr_write_queues?: number;
  nr_poll_queues?: number;
  queue_size?: number;
  keep_alive_tmo?: number;
  reconnect_delay?: number;
  /** -1 = retry forever. */
  ctrl_loss_tmo?: number;
  /** -1 = off. */
  fast_io_fail_tmo?: number;
  tos?: number;
  duplicate_connect?: boolean;
  disable_sqflow?: boolean;
  hdr_digest?: boolean;
  data_digest?: boolean;
  /** Persistent discovery controller (the kernel's `discovery` flag). */
  discovery?: boolean;
  dhchap_secret?: string;
  dhchap_ctrl_secret?: string;
  tls?: boolean;
  /** Serial of a TLS PSK in the kernel keyring. */
  tls_key?: number;
  /** Serial of the keyring holding TLS keys. */
  keyring?: number;
  /** Secure channel concatenation (TLS negotiated by DH-HMAC-CHAP). */
  concat?: boolean;
}

export type OptionName = keyof ConnectOptions;

/** One row of the option table. */
export interface ConnectOptionSpec {
  /** The kernel's option name, also the key in ConnectOptions. */
  name: OptionName;
  /** `flag` takes no value in the option string. */
  kind: 'string' | 'int' | 'flag';
  /** nvme-cli's spelling of the command-line flag, so an operator's habits work; absent = none. */
  flags?: string;
  /** The command-line help text. */
  description?: string;
  /** `connect` = a flag of `connect` only; `all` = also of discover and connect-all. */
  cli?: 'connect' | 'all';
  /** Transports it applies to; absent = all. */
  only?: readonly Transport[];
  /** The format of its value. */
  format?: OptionFormat;
  /** The integers allowed, and what to say when a value is outside. */
  range?: readonly [min: number, max: number, hint: string];
  /** Never echoed in an error, log or audit record. */
  secret?: boolean;
  /** Refuse to connect when the kernel does not list it, rather than silently dropping it. */
  mustBeSupported?: boolean;
  /**
   * Carried from a discovery connect to its referrals and to connect-all's connects (where the
   * target's transport takes it); `same-transport`: only to targets of the same transport.
   */
  carry?: 'any' | 'same-transport';
}

/** In command-line order; the option string puts `nqn` first (see OPTION_NAMES). */
export const CONNECT_OPTION_SPECS: readonly ConnectOptionSpec[] = [
  {
    name: 'transport',
    kind: 'string',
    flags: '-t, --transport <trtype>',
    description: 'transport: tcp, rdma, fc or loop',
    cli: 'all',
  },
  {
    name: 'traddr',
    kind: 'string',
    flags: '-a, --traddr <traddr>',
    description: 'target address',
    cli: 'all',
    only: ['tcp', 'rdma', 'fc'],
    format: 'address',
  },
  {
    name: 'trsvcid',
    kind: 'string',
    flags: '-s, --trsvcid <trsvcid>',
    description: 'target service id (TCP/RDMA port)',
    cli: 'all',
    only: ['tcp', 'rdma'],
    format: 'port',
  },
  {
    name: 'host_traddr',
    kind: 'string',
    flags: '-w, --host-traddr <traddr>',
    description: 'host (source) address',
    cli: 'all',
    only: ['tcp', 'rdma', 'fc'],
    format: 'address',
    carry: 'same-transport',
  },
  {
    name: 'host_iface',
    kind: 'string',
    flags: '-f, --host-iface <iface>',
    description: 'host network interface (TCP)',
    cli: 'all',
    only: ['tcp'],
    format: 'iface',
    carry: 'any',
  },
  {
    name: 'nqn',
    kind: 'string',
    flags: '-n, --nqn <nqn>',
    description: 'subsystem NQN',
    cli: 'connect',
    format: 'nqn',
  },
  {
    name: 'hostnqn',
    kind: 'string',
    flags: '-q, --hostnqn <nqn>',
    description: 'host NQN (default: <etc>/nvme/hostnqn)',
    cli: 'all',
    format: 'nqn',
    carry: 'any',
  },
  {
    name: 'hostid',
    kind: 'string',
    flags: '-I, --hostid <uuid>',
    description: 'host ID (default: <etc>/nvme/hostid)',
    cli: 'all',
    format: 'uuid',
    carry: 'any',
  },
  {
    name: 'nr_io_queues',
    kind: 'int',
    flags: '-i, --nr-io-queues <n>',
    description: 'number of I/O queues',
    cli: 'all',
    range: [1, 65535, 'at least 1'],
    carry: 'any',
  },
  {
    name: 'nr_write_queues',
    kind: 'int',
    flags: '-W, --nr-write-queues <n>',
    description: 'number of write queues',
    cli: 'all',
    only: ['tcp', 'rdma'],
    range: [0, 65535, '0 or more'],
    carry: 'any',
  },
  {
    name: 'nr_poll_queues',
    kind: 'int',
    flags: '-P, --nr-poll-queues <n>',
    description: 'number of poll queues',
    cli: 'all',
    only: ['tcp', 'rdma'],
    range: [0, 65535, '0 or more'],
    carry: 'any',
  },
  {
    name: 'queue_size',
    kind: 'int',
    flags: '-Q, --queue-size <n>',
    description: 'I/O queue size',
    cli: 'all',
    range: [16, 1024, 'the kernel accepts 16-1024'],
    carry: 'any',
  },
  {
    name: 'keep_alive_tmo',
    kind: 'int',
    flags: '-k, --keep-alive-tmo <s>',
    description: 'keep-alive timeout (seconds)',
    cli: 'all',
    range: [0, 65535, '0 (off) or seconds'],
    carry: 'any',
  },
  {
    name: 'reconnect_delay',
    kind: 'int',
    flags: '-c, --reconnect-delay <s>',
    description: 'reconnect delay (seconds)',
    cli: 'all',
    range: [0, 1 << 30, 'seconds, at least 1'],
    carry: 'any',
  },
  {
    name: 'ctrl_loss_tmo',
    kind: 'int',
    flags: '-l, --ctrl-loss-tmo <s>',
    description: 'controller loss timeout (seconds, -1 = forever)',
    cli: 'all',
    range: [-1, 1 << 30, '-1 (forever), 0 (never reconnect) or seconds'],
    carry: 'any',
  },
  {
    name: 'fast_io_fail_tmo',
    kind: 'int',
    flags: '-F, --fast-io-fail-tmo <s>',
    description: 'fast I/O fail timeout (seconds, -1 = off)',
    cli: 'all',
    range: [-1, 1 << 30, '-1 (off) or seconds'],
    carry: 'any',
  },
  {
    name: 'tos',
    kind: 'int',
    flags: '-T, --tos <tos>',
    description: 'type of service',
    cli: 'all',
    only: ['tcp', 'rdma'],
    range: [-1, 255, '-1 (default) or 0-255'],
    carry: 'any',
  },
  {
    name: 'duplicate_connect',
    kind: 'flag',
    flags: '-D, --duplicate-connect',
    description: 'allow a duplicate connection',
    cli: 'all',
  },
  {
    name: 'disable_sqflow',
    kind: 'flag',
    flags: '-d, --disable-sqflow',
    description: 'disable SQ flow control',
    cli: 'connect',
    carry: 'any',
  },
  {
    name: 'hdr_digest',
    kind: 'flag',
    flags: '-g, --hdr-digest',
    description: 'enable TCP header digest',
    cli: 'all',
    only: ['tcp'],
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'data_digest',
    kind: 'flag',
    flags: '-G, --data-digest',
    description: 'enable TCP data digest',
    cli: 'all',
    only: ['tcp'],
    mustBeSupported: true,
    carry: 'any',
  },
  { name: 'discovery', kind: 'flag' },
  {
    name: 'dhchap_secret',
    kind: 'string',
    flags: '-S, --dhchap-secret <secret>',
    description: 'DH-HMAC-CHAP host secret',
    cli: 'all',
    format: 'dhchap',
    secret: true,
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'dhchap_ctrl_secret',
    kind: 'string',
    flags: '-C, --dhchap-ctrl-secret <secret>',
    description: 'DH-HMAC-CHAP controller secret',
    cli: 'all',
    format: 'dhchap',
    secret: true,
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'tls',
    kind: 'flag',
    flags: '--tls',
    description: 'use TLS (TCP)',
    cli: 'all',
    only: ['tcp'],
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'tls_key',
    kind: 'int',
    flags: '--tls-key <serial>',
    description: 'TLS PSK key serial in the kernel keyring',
    cli: 'all',
    only: ['tcp'],
    range: [1, 0x7fffffff, 'a key serial number'],
    secret: true,
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'keyring',
    kind: 'int',
    flags: '--keyring <serial>',
    description: 'keyring serial holding TLS keys',
    cli: 'all',
    only: ['tcp'],
    range: [1, 0x7fffffff, 'a keyring serial number'],
    mustBeSupported: true,
    carry: 'any',
  },
  {
    name: 'concat',
    kind: 'flag',
    flags: '--concat',
    description: 'secure channel concatenation',
    cli: 'all',
    only: ['tcp'],
    mustBeSupported: true,
  },
];

const BY_NAME: ReadonlyMap<string, ConnectOptionSpec> = new Map(CONNECT_OPTION_SPECS.map((s) => [s.name, s]));

/** The spec of a known option name, or undefined. */
export function optionSpec(name: string): ConnectOptionSpec | undefined {
  return BY_NAME.get(name);
}

/**
 * Option names in the order they are written: `nqn` first (the kernel's parser does not care,
 * but nvme-cli and libnvme write it so and some out-of-tree transports match on it).
 */
export const OPTION_NAMES: readonly OptionName[] = [
  'nqn',
  ...CONNECT_OPTION_SPECS.map((s) => s.name).filter((n) => n !== 'nqn'),
];

/** Names of the options whose values are secret. */
export const SECRET_OPTIONS: readonly string[] = CONNECT_OPTION_SPECS.filter((s) => s.secret).map(
  (s) => s.name,
);

/** Whether the option `spec` describes applies to `transport` (its `only`). */
export function appliesTo(spec: ConnectOptionSpec, transport: string): boolean {
  return spec.only === undefined || (spec.only as readonly string[]).includes(transport);
}

/**
 * What we assume the kernel supports when `/dev/nvme-fabrics` cannot be read for its list:
 * the option set of Linux 6.1 (the oldest kernel we test against). TLS arrived later, so a
 * TLS connect on an unreadable list is refused rather than sent blind.
 */
export const FALLBACK_SUPPORTED_OPTIONS: readonly string[] = [
  'transport',
  'traddr',
  'trsvcid',
  'nqn',
  'queue_size',
  'nr_io_queues',
  'reconnect_delay',
  'ctrl_loss_tmo',
  'keep_alive_tmo',
  'hostnqn',
  'host_traddr',
  'host_iface',
  'hostid',
  'duplicate_connect',
  'disable_sqflow',
  'hdr_digest',
  'data_digest',
  'nr_write_queues',
  'nr_poll_queues',
  'tos',
  'fast_io_fail_tmo',
  'discovery',
  'dhchap_secret',
  'dhchap_ctrl_secret',
];

/**
 * The option names a kernel lists when `/dev/nvme-fabrics` is read
 * (`instance=-1,cntlid=-1,transport=%s,...,duplicate_connect,...`), each once. The first two
 * are reply fields, not options; anything that is not a lower-case name is not an option.
 */
export function parseSupportedOptions(listing: string): string[] {
  const names: string[] = [];
  for (const part of checkString(listing, 'parseSupportedOptions', 'the listing').trim().split(',')) {
    const name = (part.split('=')[0] ?? '').trim();
    if (/^[a-z_]+$/.test(name) && name !== 'instance' && name !== 'cntlid' && !names.includes(name))
      names.push(name);
  }
  return names;
}
