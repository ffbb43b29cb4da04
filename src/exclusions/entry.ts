import { canonicalIp } from '../ip.js';

/**
 * One exclusion entry, in upstream nvme-cli's grammar: `key=value` fields separated by `;`,
 * the keys being the `connect` option names. An entry excludes a target when every field it
 * sets matches the target; fields it does not set are not checked. See docs/exclusions.md.
 */
export const EXCLUSION_KEYS = [
  'transport',
  'traddr',
  'trsvcid',
  'nqn',
  'host-traddr',
  'host-iface',
  'hostnqn',
  'hostid',
] as const;

export type ExclusionKey = (typeof EXCLUSION_KEYS)[number];

/** A valid entry: at least one field; tcp/rdma addresses in canonical spelling. */
export type ExclusionEntry = Readonly<Partial<Record<ExclusionKey, string>>>;

/**
 * What is about to be connected, in the connect options' names (a ConnectOptions value is
 * one). A missing field is "no value", which an entry that sets that field never matches.
 */
export interface ExclusionTarget {
  transport: string;
  nqn?: string | null;
  traddr?: string | null;
  trsvcid?: string | null;
  host_traddr?: string | null;
  host_iface?: string | null;
  hostnqn?: string | null;
  hostid?: string | null;
  /**
   * The target is an NBFT subsystem entry (a boot device). Only an entry that names the target
   * itself (sets `nqn` or `traddr`) excludes it; broad entries (a transport, an interface, a
   * host identity) do not. Upstream applies every entry; see docs/exclusions.md.
   */
  nbft?: boolean;
}

export type EntryParse = { ok: true; entry: ExclusionEntry } | { ok: false; reason: string };

const FC_WWN_RE = /^nn-0x[0-9a-fA-F]{1,16}:pn-0x[0-9a-fA-F]{1,16}$/;

/**
 * Parse an entry's text (what follows `exclusion =`). Empty tokens (`;;`, a trailing `;`) are
 * skipped; a token without `=`, an empty value, an unknown key or an entry with no field makes
 * the entry invalid, with the reason. A repeated key keeps its last value, as upstream does.
 * With transport tcp or rdma the addresses must be numeric IPs (host names are not resolved);
 * with fc they must be `nn-0x<hex>:pn-0x<hex>`.
 */
export function parseExclusionEntry(text: string): EntryParse {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  const fields: Partial<Record<ExclusionKey, string>> = {};
  for (const token of text.split(';')) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      if (token.trim() !== '')
        return { ok: false, reason: `field ${JSON.stringify(token.trim())} has no "="` };
      continue;
    }
    const key = token.slice(0, eq).trim();
    const value = token.slice(eq + 1).trim();
    if (!(EXCLUSION_KEYS as readonly string[]).includes(key))
      return {
        ok: false,
        reason: `unknown key ${JSON.stringify(key)} (known: ${EXCLUSION_KEYS.join(', ')})`,
      };
    if (value === '') return { ok: false, reason: `key ${key} has an empty value` };
    fields[key as ExclusionKey] = value;
  }
  if (Object.keys(fields).length === 0) return { ok: false, reason: 'no field' };
  const transport = fields.transport;
  for (const key of ['traddr', 'host-traddr'] as const) {
    const value = fields[key];
    if (value === undefined) continue;
    if (transport === 'fc') {
      if (!FC_WWN_RE.test(value))
        return {
          ok: false,
          reason: `${key} ${JSON.stringify(value)} is not an FC address nn-0x<hex>:pn-0x<hex>`,
        };
    } else if (transport === 'tcp' || transport === 'rdma') {
      const canonical = canonicalIp(value);
      if (canonical === null)
        return {
          ok: false,
          reason: `${key} ${JSON.stringify(value)} is not a numeric IP address (names are not resolved)`,
        };
      fields[key] = canonical;
    }
  }
  return { ok: true, entry: fields };
}

/** The entry as text, fields in the canonical key order (what `exclusion add` writes). */
export function formatExclusionEntry(entry: ExclusionEntry): string {
  return EXCLUSION_KEYS.filter((k) => entry[k] !== undefined)
    .map((k) => `${k}=${entry[k]}`)
    .join(';');
}

/**
 * Two transport addresses are one when: for fc, they are equal ignoring case; otherwise, both
 * are numeric IPs naming the same address (any spelling, IPv4-mapped included), or the texts
 * are equal.
 */
function sameAddress(entryValue: string, targetValue: string, transport: string): boolean {
  if (transport === 'fc') return entryValue.toLowerCase() === targetValue.toLowerCase();
  const a = canonicalIp(entryValue);
  return (a !== null && a === canonicalIp(targetValue)) || entryValue === targetValue;
}

function present(v: string | null | undefined): v is string {
  return typeof v === 'string' && v !== '';
}

/** True when `entry` excludes `target` (the rules above and in docs/exclusions.md). */
export function entryMatches(entry: ExclusionEntry, target: ExclusionTarget): boolean {
  if (target.nbft === true && entry.nqn === undefined && entry.traddr === undefined) return false;
  const exact = (want: string | undefined, have: string | null | undefined): boolean =>
    want === undefined || (present(have) && want === have);
  const address = (want: string | undefined, have: string | null | undefined): boolean =>
    want === undefined || (present(have) && sameAddress(want, have, target.transport));
  return (
    exact(entry.transport, target.transport) &&
    address(entry.traddr, target.traddr) &&
    exact(entry.trsvcid, target.trsvcid) &&
    exact(entry.nqn, target.nqn) &&
    address(entry['host-traddr'], target.host_traddr) &&
    exact(entry['host-iface'], target.host_iface) &&
    exact(entry.hostnqn, target.hostnqn) &&
    exact(entry.hostid, target.hostid)
  );
}

/**
 * The entry `disconnect --exclude` adds for a controller, as upstream's: transport, traddr,
 * trsvcid (when set), subsystem NQN and host-iface (when set); the host identity is left out
 * so the target stays excluded whichever host NQN a later connect uses. Null when the
 * controller's fields do not make a valid entry (a loop controller has no address; it is
 * still excluded by transport and NQN).
 */
export function exclusionOfController(c: {
  transport: string;
  subsysnqn: string;
  address: { traddr?: string; trsvcid?: string; host_iface?: string };
}): ExclusionEntry | null {
  const fields: [string, string | undefined][] = [
    ['transport', c.transport],
    ['traddr', c.address.traddr],
    ['trsvcid', c.address.trsvcid],
    ['nqn', c.subsysnqn],
    ['host-iface', c.address.host_iface],
  ];
  const text = fields
    .filter(([, v]) => v !== undefined && v !== '' && !v.includes(';'))
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
  const parsed = parseExclusionEntry(text);
  return parsed.ok ? parsed.entry : null;
}
