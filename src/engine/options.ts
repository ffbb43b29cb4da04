import {
  checkEntries,
  checkOptionalString,
  checkOptionalText,
  checkOptions,
  checkRecord,
  checkString,
  describe,
  invalidOption,
} from '../args.js';
import { NvmfError } from '../errors.js';

/**
 * Connect options: the transport ID and every option of the Linux fabrics interface, parsed
 * into a typed object, validated before the kernel is touched, and rendered as the option
 * string `/dev/nvme-fabrics` expects. Secrets (DH-HMAC-CHAP keys, TLS key references) are
 * never echoed in an error message.
 */

export const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
export const DEFAULT_IO_PORT = '4420';
export const DEFAULT_DISCOVERY_PORT = '8009';

/** Kernel defaults the timeout rules are checked against when the user leaves a value out. */
export const KERNEL_DEFAULT_RECONNECT_DELAY = 10;
export const KERNEL_DEFAULT_CTRL_LOSS_TMO = 600;

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
export type ConnectInput = Partial<Record<OptionName, string | number | boolean | undefined | null>>;

type Kind = 'string' | 'int' | 'flag';
interface Spec {
  kind: Kind;
  /** Transports the option applies to; undefined = all. */
  only?: readonly Transport[];
  secret?: boolean;
  /** Refuse to connect when the kernel does not list it, rather than silently dropping it. */
  mustBeSupported?: boolean;
}

/** Kernel option names in the order they are written (nqn first). */
const SPECS: Readonly<Record<OptionName, Spec>> = {
  nqn: { kind: 'string' },
  transport: { kind: 'string' },
  traddr: { kind: 'string', only: ['tcp', 'rdma', 'fc'] },
  trsvcid: { kind: 'string', only: ['tcp', 'rdma'] },
  host_traddr: { kind: 'string', only: ['tcp', 'rdma', 'fc'] },
  host_iface: { kind: 'string', only: ['tcp'] },
  hostnqn: { kind: 'string' },
  hostid: { kind: 'string' },
  nr_io_queues: { kind: 'int' },
  nr_write_queues: { kind: 'int', only: ['tcp', 'rdma'] },
  nr_poll_queues: { kind: 'int', only: ['tcp', 'rdma'] },
  queue_size: { kind: 'int' },
  keep_alive_tmo: { kind: 'int' },
  reconnect_delay: { kind: 'int' },
  ctrl_loss_tmo: { kind: 'int' },
  fast_io_fail_tmo: { kind: 'int' },
  tos: { kind: 'int', only: ['tcp', 'rdma'] },
  duplicate_connect: { kind: 'flag' },
  disable_sqflow: { kind: 'flag' },
  hdr_digest: { kind: 'flag', only: ['tcp'], mustBeSupported: true },
  data_digest: { kind: 'flag', only: ['tcp'], mustBeSupported: true },
  discovery: { kind: 'flag' },
  dhchap_secret: { kind: 'string', secret: true, mustBeSupported: true },
  dhchap_ctrl_secret: { kind: 'string', secret: true, mustBeSupported: true },
  tls: { kind: 'flag', only: ['tcp'], mustBeSupported: true },
  tls_key: { kind: 'int', only: ['tcp'], secret: true, mustBeSupported: true },
  keyring: { kind: 'int', only: ['tcp'], mustBeSupported: true },
  concat: { kind: 'flag', only: ['tcp'], mustBeSupported: true },
};

export const OPTION_NAMES: readonly OptionName[] = Object.keys(SPECS) as OptionName[];
const SECRET_OPTIONS: readonly string[] = OPTION_NAMES.filter((n) => SPECS[n].secret);

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

function invalid(option: string, message: string, value?: unknown): NvmfError {
  const details: Record<string, unknown> = { option };
  if (value !== undefined && !SECRET_OPTIONS.includes(option)) details.value = value;
  return new NvmfError('EINVALID_OPTION', message, details);
}

/** Shows a value in a message, or hides it if the option is secret. */
function shown(option: string, value: unknown): string {
  return SECRET_OPTIONS.includes(option) ? '<redacted>' : describe(value);
}

// NQN: NVMe base spec §4.7 ("NVMe Qualified Names"). Max 223 bytes, UTF-8.
const NQN_MAX_BYTES = 223;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const NQN_DATE_DOMAIN_RE =
  /^nqn\.(\d{4})-(\d{2})\.([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)(?::(.*))?$/s;
const NQN_UUID_PREFIX = 'nqn.2014-08.org.nvmexpress:uuid:';

/** Null if `nqn` is a valid NQN, else why not. */
export function nqnProblem(nqn: string): string | null {
  if (typeof nqn !== 'string') return 'it is not a string';
  const bytes = Buffer.byteLength(nqn, 'utf8');
  if (bytes === 0) return 'it is empty';
  if (bytes > NQN_MAX_BYTES) return `it is ${bytes} bytes, the limit is ${NQN_MAX_BYTES}`;
  if (/[\x00-\x1f\x7f,=]/.test(nqn))
    return 'it contains a control character, "," or "=" (the option string separators)';
  if (nqn === DISCOVERY_NQN) return null;
  if (nqn.startsWith(NQN_UUID_PREFIX)) {
    return UUID_RE.test(nqn.slice(NQN_UUID_PREFIX.length))
      ? null
      : 'the uuid form needs a UUID after "uuid:"';
  }
  const m = NQN_DATE_DOMAIN_RE.exec(nqn);
  if (m === null) return 'expected nqn.yyyy-mm.reverse.domain:name or nqn.2014-08.org.nvmexpress:uuid:<uuid>';
  const month = Number(m[2]);
  if (month < 1 || month > 12) return `month ${m[2]} is not 01-12`;
  if (m[4] !== undefined && m[4].length === 0) return 'nothing follows the ":"';
  return null;
}

function checkNqn(option: string, nqn: string): void {
  const why = nqnProblem(nqn);
  if (why !== null) throw invalid(option, `${option} ${JSON.stringify(nqn)} is not a valid NQN: ${why}`, nqn);
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIPv6(s: string): boolean {
  const [addr, scope, ...rest] = s.split('%');
  if (rest.length > 0 || addr === undefined || (scope !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(scope)))
    return false;
  if (!/^[0-9a-fA-F:.]+$/.test(addr) || !addr.includes(':')) return false;
  const dbl = addr.split('::');
  if (dbl.length > 2) return false;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  let parts = [...groups(dbl[0] ?? ''), ...(dbl.length === 2 ? groups(dbl[1] ?? '') : [])];
  let width = 8;
  const last = parts[parts.length - 1];
  if (last?.includes('.')) {
    if (!IPV4_RE.test(last)) return false;
    parts = parts.slice(0, -1);
    width = 6;
  }
  if (!parts.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? parts.length < width : parts.length === width;
}
const FC_ADDR_RE = /^nn-0x[0-9a-fA-F]{16}:pn-0x[0-9a-fA-F]{16}$/;
const IFACE_RE = /^[A-Za-z0-9_.:-]{1,15}$/;

function checkAddress(option: string, transport: Transport, value: string): void {
  if (transport === 'fc') {
    if (!FC_ADDR_RE.test(value)) {
      throw invalid(
        option,
        `${option} ${JSON.stringify(value)} is not an FC address; use nn-0x<16 hex>:pn-0x<16 hex>`,
        value,
      );
    }
    return;
  }
  if (!IPV4_RE.test(value) && !isIPv6(value)) {
    throw invalid(
      option,
      `${option} ${JSON.stringify(value)} is not an IPv4 or IPv6 address; the kernel takes no host names, resolve it first`,
      value,
    );
  }
}

// DH-HMAC-CHAP secret representation (NVMe base spec §8.3.5.5.2): DHHC-1:<hh>:<base64 of key + CRC-32>:
const DHCHAP_RE = /^DHHC-1:0[0-3]:([A-Za-z0-9+/]+={0,2}):$/;
function checkDhchap(option: string, value: string): void {
  const m = DHCHAP_RE.exec(value);
  const len = m?.[1] === undefined ? -1 : Buffer.from(m[1], 'base64').length;
  if (len !== 36 && len !== 52 && len !== 68) {
    throw invalid(
      option,
      `${option} is not a DH-HMAC-CHAP secret; expected DHHC-1:<00-03>:<base64 of a 32, 48 or 64 byte key plus CRC>: as "nvme gen-dhchap-key" prints it`,
    );
  }
}

function coerce(name: OptionName, spec: Spec, raw: string | number | boolean): string | number | boolean {
  switch (spec.kind) {
    case 'flag': {
      if (raw === true || raw === 'true' || raw === '1' || raw === 1 || raw === '') return true;
      if (raw === false || raw === 'false' || raw === '0' || raw === 0) return false;
      throw invalid(name, `${name} is a flag; give true or false, not ${shown(name, raw)}`, raw);
    }
    case 'int': {
      const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^-?(?:\d+|0x[0-9a-fA-F]+)$/.test(s)) {
        throw invalid(name, `${name} must be an integer, not ${shown(name, raw)}`, raw);
      }
      const n = s.startsWith('-') ? -Number(s.slice(1)) : Number(s);
      if (!Number.isSafeInteger(n)) throw invalid(name, `${name} ${shown(name, raw)} is out of range`, raw);
      return n;
    }
    case 'string': {
      if (typeof raw !== 'string')
        throw invalid(name, `${name} must be a string, not ${shown(name, raw)}`, raw);
      if (/[,\x00-\x1f\x7f]/.test(raw)) {
        throw invalid(
          name,
          `${name} ${shown(name, raw)} contains "," or a control character, which would break the option string`,
          raw,
        );
      }
      return raw;
    }
  }
}

function range(o: ConnectOptions, name: OptionName, min: number, max: number, hint: string): void {
  const v = o[name];
  if (typeof v === 'number' && (v < min || v > max)) {
    throw invalid(name, `${name}=${v} is out of range: ${hint}`, v);
  }
}

/**
 * Parse and validate. `input` holds option names as the fabrics interface spells them; values
 * may be strings (from a command line or option string) or typed. Throws EINVALID_OPTION.
 */
export function parseConnectOptions(input: ConnectInput): ConnectOptions {
  const out: Partial<Record<OptionName, string | number | boolean>> = {};
  for (const [key, raw] of checkEntries(input, 'connect options')) {
    if (!Object.hasOwn(SPECS, key)) {
      throw invalid(key, `unknown connect option "${key}"; known options: ${OPTION_NAMES.join(', ')}`);
    }
    if (raw === undefined || raw === null) continue;
    const name = key as OptionName;
    out[name] = coerce(name, SPECS[name], raw as string | number | boolean);
  }
  const o = out as Partial<ConnectOptions>;

  if (o.transport === undefined)
    throw invalid('transport', `transport is required; use one of ${TRANSPORTS.join(', ')}`);
  if (!(TRANSPORTS as readonly string[]).includes(o.transport)) {
    throw invalid(
      'transport',
      `transport ${JSON.stringify(o.transport)} is not supported; use one of ${TRANSPORTS.join(', ')}`,
      o.transport,
    );
  }
  const transport = o.transport as Transport;
  if (o.nqn === undefined) throw invalid('nqn', 'nqn (the subsystem NQN) is required');
  checkNqn('nqn', o.nqn);
  if (o.hostnqn !== undefined) checkNqn('hostnqn', o.hostnqn);
  if (o.hostid !== undefined && !UUID_RE.test(o.hostid)) {
    throw invalid(
      'hostid',
      `hostid ${JSON.stringify(o.hostid)} is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`,
      o.hostid,
    );
  }

  for (const name of OPTION_NAMES) {
    const only = SPECS[name].only;
    if (o[name] !== undefined && only !== undefined && !only.includes(transport)) {
      // a false flag asks for nothing, so it is harmless on any transport
      if (o[name] === false) {
        delete o[name];
        continue;
      }
      throw invalid(
        name,
        `${name} does not apply to transport ${transport}; it is for ${only.join(', ')} only`,
        o[name],
      );
    }
  }

  if (transport !== 'loop' && o.traddr === undefined) {
    throw invalid('traddr', `traddr is required for transport ${transport}`);
  }
  if (o.traddr !== undefined) checkAddress('traddr', transport, o.traddr);
  if (o.host_traddr !== undefined) checkAddress('host_traddr', transport, o.host_traddr);
  if (o.host_iface !== undefined && !IFACE_RE.test(o.host_iface)) {
    throw invalid(
      'host_iface',
      `host_iface ${JSON.stringify(o.host_iface)} is not a network interface name`,
      o.host_iface,
    );
  }
  if (transport === 'tcp' || transport === 'rdma') {
    if (o.trsvcid === undefined)
      o.trsvcid = o.nqn === DISCOVERY_NQN ? DEFAULT_DISCOVERY_PORT : DEFAULT_IO_PORT;
    if (
      !/^\d{1,5}$/.test(o.trsvcid) ||
      Number(o.trsvcid) < 1 ||
      Number(o.trsvcid) > 65535 ||
      /^0/.test(o.trsvcid)
    ) {
      throw invalid(
        'trsvcid',
        `trsvcid ${JSON.stringify(o.trsvcid)} is not a port number 1-65535`,
        o.trsvcid,
      );
    }
  }

  range(o as ConnectOptions, 'nr_io_queues', 1, 65535, 'at least 1');
  range(o as ConnectOptions, 'nr_write_queues', 0, 65535, '0 or more');
  range(o as ConnectOptions, 'nr_poll_queues', 0, 65535, '0 or more');
  range(o as ConnectOptions, 'queue_size', 16, 1024, 'the kernel accepts 16-1024');
  range(o as ConnectOptions, 'keep_alive_tmo', 0, 65535, '0 (off) or seconds');
  range(o as ConnectOptions, 'reconnect_delay', 0, 1 << 30, 'seconds, at least 1');
  range(o as ConnectOptions, 'ctrl_loss_tmo', -1, 1 << 30, '-1 (forever), 0 (never reconnect) or seconds');
  range(o as ConnectOptions, 'fast_io_fail_tmo', -1, 1 << 30, '-1 (off) or seconds');
  range(o as ConnectOptions, 'tos', -1, 255, '-1 (default) or 0-255');
  range(o as ConnectOptions, 'tls_key', 1, 0x7fffffff, 'a key serial number');
  range(o as ConnectOptions, 'keyring', 1, 0x7fffffff, 'a keyring serial number');

  checkTimeouts(o as ConnectOptions);

  if (o.dhchap_secret !== undefined) checkDhchap('dhchap_secret', o.dhchap_secret);
  if (o.dhchap_ctrl_secret !== undefined) {
    checkDhchap('dhchap_ctrl_secret', o.dhchap_ctrl_secret);
    if (o.dhchap_secret === undefined) {
      throw invalid(
        'dhchap_ctrl_secret',
        'dhchap_ctrl_secret (bidirectional authentication) needs dhchap_secret too; give the host secret',
      );
    }
  }
  if (o.tls_key !== undefined || o.keyring !== undefined) {
    if (o.tls === false)
      throw invalid('tls', 'tls_key/keyring were given but tls is false; drop them or enable tls');
    o.tls = true;
  }
  if (o.concat === true) {
    if (o.dhchap_secret === undefined)
      throw invalid('concat', 'concat (secure channel concatenation) needs dhchap_secret');
    if (o.tls === true)
      throw invalid('concat', 'concat negotiates TLS through authentication; do not combine it with tls');
  }
  return o as ConnectOptions;
}

/**
 * SPDK's bar for the loss/reconnect/fast-fail timeouts, checked against the kernel defaults
 * where the user gave no value, because the kernel combines them the same way.
 */
function checkTimeouts(o: ConnectOptions): void {
  const delay = o.reconnect_delay ?? KERNEL_DEFAULT_RECONNECT_DELAY;
  const delayName =
    o.reconnect_delay === undefined
      ? `reconnect_delay (kernel default ${delay})`
      : `reconnect_delay=${delay}`;
  const loss = o.ctrl_loss_tmo ?? KERNEL_DEFAULT_CTRL_LOSS_TMO;
  const lossName =
    o.ctrl_loss_tmo === undefined ? `ctrl_loss_tmo (kernel default ${loss})` : `ctrl_loss_tmo=${loss}`;
  const fast = o.fast_io_fail_tmo;

  if (o.reconnect_delay === 0) {
    throw invalid(
      'reconnect_delay',
      loss === -1
        ? 'reconnect_delay=0 with ctrl_loss_tmo=-1 would retry forever without pause; give reconnect_delay of at least 1'
        : 'reconnect_delay must be at least 1 second',
      0,
    );
  }
  if (fast !== undefined && fast !== -1 && fast < delay) {
    throw invalid(
      'fast_io_fail_tmo',
      `fast_io_fail_tmo=${fast} is below ${delayName}; I/O would fail before the first reconnect attempt. Raise it or lower reconnect_delay`,
      fast,
    );
  }
  // ctrl_loss_tmo=0 means "do not reconnect at all": there is no delay to compare with.
  if (loss > 0) {
    if (loss < delay) {
      throw invalid(
        'ctrl_loss_tmo',
        `${lossName} is below ${delayName}; the controller would be given up before its first reconnect. Raise ctrl_loss_tmo or lower reconnect_delay`,
        loss,
      );
    }
    if (fast !== undefined && fast !== -1 && loss < fast) {
      throw invalid(
        'ctrl_loss_tmo',
        `${lossName} is below fast_io_fail_tmo=${fast}; fast failing would never happen. Raise ctrl_loss_tmo or lower fast_io_fail_tmo`,
        loss,
      );
    }
  } else if (loss === 0 && fast !== undefined && fast !== -1) {
    throw invalid(
      'fast_io_fail_tmo',
      `fast_io_fail_tmo=${fast} has no effect with ctrl_loss_tmo=0 (no reconnects); drop it`,
      fast,
    );
  }
}

/** Parse `key=value,flag,...` (the kernel's own syntax) into a ConnectInput. */
export function parseOptionString(s: string): ConnectInput {
  const input: Record<string, string> = {};
  for (const part of checkString(s, 'parseOptionString', 'the option string').split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!Object.hasOwn(SPECS, key))
      throw invalid(key, `unknown connect option "${key}"; known options: ${OPTION_NAMES.join(', ')}`);
    if (Object.hasOwn(input, key)) throw invalid(key, `option ${key} is given twice`);
    input[key] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  return input as ConnectInput;
}

/** The option names a kernel lists (`instance=-1,cntlid=-1,transport=%s,...,duplicate_connect,...`). */
export function parseSupportedOptions(listing: string): string[] {
  return checkString(listing, 'parseSupportedOptions', 'the listing')
    .trim()
    .split(',')
    .map((p) => p.split('=')[0]?.trim() ?? '')
    .filter((p) => p !== '' && p !== 'instance' && p !== 'cntlid');
}

export interface KernelOptionString {
  /** Contains secrets when the options do: never log it, use `redactOptionString`. */
  value: string;
  /** Options the kernel does not list and that were therefore left out. */
  dropped: OptionName[];
}

/**
 * Render the option string. `nqn=` comes first (the kernel's parser does not care, but
 * nvme-cli and libnvme write it so and some out-of-tree transports match on it); options the
 * kernel does not list are left out, except security options, whose absence is an error
 * because connecting without them would silently downgrade the connection.
 */
export function buildOptionString(
  opts: ConnectOptions,
  supported: readonly string[] | null,
): KernelOptionString {
  const o = checkParsedOptions(opts, 'buildOptionString');
  if (supported !== null && !isStringArray(supported))
    throw invalidOption(
      'buildOptionString',
      `supported must be null or an array of option names, got ${describe(supported)}`,
    );
  const listed = new Set(supported ?? FALLBACK_SUPPORTED_OPTIONS);
  const parts: string[] = [];
  const dropped: OptionName[] = [];
  for (const name of OPTION_NAMES) {
    const v = o[name];
    if (v === undefined || v === false) continue;
    const required = name === 'nqn' || name === 'transport' || name === 'traddr';
    if (!required && !listed.has(name)) {
      if (SPECS[name].mustBeSupported) {
        throw invalid(
          name,
          supported === null
            ? `${name} was asked for but the kernel's option list could not be read to confirm support; check that nvme-fabrics is loaded`
            : `this kernel does not support ${name}; upgrade the kernel or connect without it`,
        );
      }
      dropped.push(name);
      continue;
    }
    parts.push(v === true ? name : `${name}=${v}`);
  }
  return { value: parts.join(','), dropped };
}

/** The option string with every secret value replaced by `<redacted>`, safe to log. */
export function redactOptionString(s: string): string {
  return checkString(s, 'redactOptionString', 'the option string')
    .split(',')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0) return part;
      return SECRET_OPTIONS.includes(part.slice(0, eq).trim()) ? `${part.slice(0, eq)}=<redacted>` : part;
    })
    .join(',');
}

/** Options without secret values, for audit records and errors. */
export function redactOptions(opts: ConnectOptions): Record<string, string | number | boolean> {
  const o = checkParsedOptions(opts, 'redactOptions');
  const out: Record<string, string | number | boolean> = {};
  for (const name of OPTION_NAMES) {
    const v = o[name];
    if (v === undefined) continue;
    out[name] = SPECS[name].secret ? '<redacted>' : v;
  }
  return out;
}

/**
 * What makes two connects reach the same controller, in the shape the registry's connect
 * intents record (`subsysnqn` is the kernel's name for `nqn`). Absent fields match anything.
 */
export interface TargetIdentity {
  transport: Transport;
  subsysnqn: string;
  traddr?: string;
  trsvcid?: string;
  hostnqn?: string;
  host_traddr?: string;
  host_iface?: string;
}

export function targetIdentity(opts: ConnectOptions): TargetIdentity {
  const what = 'targetIdentity';
  const o = checkOptions(opts, what, IDENTITY_OPTIONS);
  const text = (k: (typeof IDENTITY_OPTIONS)[number]): string | undefined =>
    checkOptionalString(o[k], what, k);
  const transport = text('transport');
  const nqn = text('nqn');
  if (transport === undefined || nqn === undefined)
    throw invalidOption(what, 'transport and nqn are required');
  const t: TargetIdentity = { transport: transport as Transport, subsysnqn: nqn };
  const traddr = text('traddr');
  const trsvcid = text('trsvcid');
  const hostnqn = text('hostnqn');
  const hostTraddr = text('host_traddr');
  const hostIface = text('host_iface');
  if (traddr !== undefined) t.traddr = traddr.toLowerCase();
  if (trsvcid !== undefined) t.trsvcid = trsvcid;
  if (hostnqn !== undefined) t.hostnqn = hostnqn;
  if (hostTraddr !== undefined) t.host_traddr = hostTraddr.toLowerCase();
  if (hostIface !== undefined) t.host_iface = hostIface;
  return t;
}

const IDENTITY_OPTIONS = [
  'transport',
  'nqn',
  'traddr',
  'trsvcid',
  'hostnqn',
  'host_traddr',
  'host_iface',
] as const;
const TARGET_FIELDS = [
  'transport',
  'subsysnqn',
  'traddr',
  'trsvcid',
  'hostnqn',
  'host_traddr',
  'host_iface',
] as const;

/** A TargetIdentity's fields, type-checked: strings or absent. */
function checkTarget(v: unknown, what: string): Partial<Record<(typeof TARGET_FIELDS)[number], string>> {
  const t = checkRecord(v, what, TARGET_FIELDS);
  const out: Partial<Record<(typeof TARGET_FIELDS)[number], string>> = {};
  for (const k of TARGET_FIELDS) {
    const s = checkOptionalText(t[k], what, k);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** Options as parseConnectOptions returns them: each a string, number or boolean, or absent. */
function checkParsedOptions(
  v: unknown,
  what: string,
): Partial<Record<OptionName, string | number | boolean>> {
  const o = checkRecord(v, what, OPTION_NAMES);
  for (const name of OPTION_NAMES) {
    const x = o[name];
    if (x !== undefined && typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')
      throw invalidOption(what, `option ${name} must be a string, number or boolean, got ${describe(x)}`);
  }
  return o as Partial<Record<OptionName, string | number | boolean>>;
}

function isStringArray(v: unknown): boolean {
  try {
    return Array.isArray(v) && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** A controller as sysfs shows it (the kernel port's ControllerInfo fits). */
export interface ObservedTarget {
  transport: string;
  subsysnqn: string;
  hostnqn?: string | null;
  address: { traddr?: string; trsvcid?: string; host_traddr?: string; host_iface?: string };
}

/**
 * Whether an existing controller is the one a connect to `t` would reach: the kernel's own
 * duplicate test (transport, subsystem, address, port), host fields only when both sides
 * name them.
 */
export function targetMatches(target: TargetIdentity, controller: ObservedTarget): boolean {
  const t = checkTarget(target, 'targetMatches target');
  const ctrl = checkRecord(controller, 'targetMatches controller', [
    'transport',
    'subsysnqn',
    'hostnqn',
    'address',
  ]);
  const addr = checkTarget(ctrl.address, 'targetMatches controller address');
  const c = {
    transport: checkOptionalText(ctrl.transport, 'targetMatches', 'controller.transport'),
    subsysnqn: checkOptionalText(ctrl.subsysnqn, 'targetMatches', 'controller.subsysnqn'),
    hostnqn: checkOptionalText(ctrl.hostnqn, 'targetMatches', 'controller.hostnqn'),
    address: addr,
  };
  if (c.transport !== t.transport || c.subsysnqn !== t.subsysnqn) return false;
  if ((t.traddr ?? '') !== (c.address.traddr ?? '').toLowerCase()) return false;
  const both = (a: string | undefined, b: string | null | undefined) =>
    a !== undefined && a !== '' && b !== undefined && b !== null && b !== '';
  if (both(t.trsvcid, c.address.trsvcid) && t.trsvcid !== c.address.trsvcid) return false;
  if (both(t.hostnqn, c.hostnqn) && t.hostnqn !== c.hostnqn) return false;
  if (both(t.host_traddr, c.address.host_traddr) && t.host_traddr !== c.address.host_traddr?.toLowerCase())
    return false;
  if (both(t.host_iface, c.address.host_iface) && t.host_iface !== c.address.host_iface) return false;
  return true;
}

/** A stable string key of a target, for sets and maps. */
export function targetKey(target: TargetIdentity): string {
  const t = checkTarget(target, 'targetKey');
  return [t.transport, t.traddr, t.trsvcid, t.subsysnqn, t.hostnqn, t.host_traddr, t.host_iface]
    .map((v) => v ?? '')
    .join('|');
}
