import { checkEntries, checkRecord, checkString, describe, invalidOption } from '../args.js';
import { NvmfError } from '../errors.js';
import { formatNeedsTransport, formatProblem } from '../nvme/formats.js';
import {
  appliesTo,
  type ConnectOptionSpec,
  type ConnectOptions,
  defaultPort,
  FALLBACK_SUPPORTED_OPTIONS,
  OPTION_NAMES,
  type OptionName,
  optionSpec,
  SECRET_OPTIONS,
  TRANSPORTS,
  type Transport,
} from '../nvme/options.js';

/**
 * Connect options: the transport ID and every option of the Linux fabrics interface, parsed
 * into a typed object, validated before the kernel is touched, and rendered as the option
 * string `/dev/nvme-fabrics` expects. What each option is comes from the table in
 * src/nvme/options.ts; the rules between options live here. Secrets (DH-HMAC-CHAP keys, TLS
 * key references) are never echoed in an error message.
 */

export { DISCOVERY_NQN, nqnProblem } from '../nvme/nqn.js';
export {
  type ConnectOptions,
  DEFAULT_DISCOVERY_PORT,
  DEFAULT_IO_PORT,
  FALLBACK_SUPPORTED_OPTIONS,
  OPTION_NAMES,
  type OptionName,
  parseSupportedOptions,
  TRANSPORTS,
  type Transport,
} from '../nvme/options.js';
export {
  type ObservedTarget,
  type TargetIdentity,
  targetIdentity,
  targetKey,
  targetMatches,
} from '../nvme/target.js';

/** Kernel defaults the timeout rules are checked against when the user leaves a value out. */
export const KERNEL_DEFAULT_RECONNECT_DELAY = 10;
export const KERNEL_DEFAULT_CTRL_LOSS_TMO = 600;

export type ConnectInput = Partial<Record<OptionName, string | number | boolean | undefined | null>>;

function invalid(option: string, message: string, value?: unknown): NvmfError {
  const details: Record<string, unknown> = { option };
  if (value !== undefined && !SECRET_OPTIONS.includes(option)) details.value = value;
  return new NvmfError('EINVALID_OPTION', message, details);
}

/** Shows a value in a message, or hides it if the option is secret. */
function shown(option: string, value: unknown): string {
  return SECRET_OPTIONS.includes(option) ? '<redacted>' : describe(value);
}

function unknownOption(key: string): NvmfError {
  return invalid(key, `unknown connect option "${key}"; known options: ${OPTION_NAMES.join(', ')}`);
}

function coerce(
  name: OptionName,
  spec: ConnectOptionSpec,
  raw: string | number | boolean,
): string | number | boolean {
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

/** Throws EINVALID_OPTION if option `name`'s value misses its format or range (table). */
function checkValue(o: Partial<ConnectOptions>, spec: ConnectOptionSpec, transport: Transport): void {
  const v = o[spec.name];
  if (v === undefined) return;
  if (spec.format !== undefined && typeof v === 'string') {
    const why = formatProblem(spec.format, spec.name, v, transport);
    if (why !== null) throw invalid(spec.name, why, v);
  }
  if (spec.range !== undefined && typeof v === 'number') {
    const [min, max, hint] = spec.range;
    if (v < min || v > max) throw invalid(spec.name, `${spec.name}=${v} is out of range: ${hint}`, v);
  }
}

/**
 * Parse and validate. `input` holds option names as the fabrics interface spells them; values
 * may be strings (from a command line or option string) or typed. Throws EINVALID_OPTION.
 * Each value is checked against its table entry (the ones that do not depend on the transport
 * first), then the rules between options.
 */
export function parseConnectOptions(input: ConnectInput): ConnectOptions {
  const out: Partial<Record<OptionName, string | number | boolean>> = {};
  for (const [key, raw] of checkEntries(input, 'connect options')) {
    const spec = optionSpec(key);
    if (spec === undefined) throw unknownOption(key);
    if (raw === undefined || raw === null) continue;
    out[spec.name] = coerce(spec.name, spec, raw as string | number | boolean);
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
  const specs = OPTION_NAMES.map((n) => optionSpec(n) as ConnectOptionSpec);
  for (const spec of specs)
    if (spec.format !== undefined && !formatNeedsTransport(spec.format)) checkValue(o, spec, transport);

  for (const spec of specs) {
    const name = spec.name;
    if (o[name] !== undefined && !appliesTo(spec, transport)) {
      // a false flag asks for nothing, so it is harmless on any transport
      if (o[name] === false) {
        delete o[name];
        continue;
      }
      throw invalid(
        name,
        `${name} does not apply to transport ${transport}; it is for ${spec.only?.join(', ')} only`,
        o[name],
      );
    }
  }

  if (transport !== 'loop' && o.traddr === undefined) {
    throw invalid('traddr', `traddr is required for transport ${transport}`);
  }
  if (o.trsvcid === undefined && appliesTo(optionSpec('trsvcid') as ConnectOptionSpec, transport))
    o.trsvcid = defaultPort(o.nqn);
  for (const spec of specs)
    if (spec.format === undefined || formatNeedsTransport(spec.format)) checkValue(o, spec, transport);

  checkTimeouts(o as ConnectOptions);

  if (o.dhchap_ctrl_secret !== undefined && o.dhchap_secret === undefined) {
    throw invalid(
      'dhchap_ctrl_secret',
      'dhchap_ctrl_secret (bidirectional authentication) needs dhchap_secret too; give the host secret',
    );
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
    if (optionSpec(key) === undefined) throw unknownOption(key);
    if (Object.hasOwn(input, key)) throw invalid(key, `option ${key} is given twice`);
    input[key] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  return input as ConnectInput;
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
      if (optionSpec(name)?.mustBeSupported) {
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
    out[name] = optionSpec(name)?.secret ? '<redacted>' : v;
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
