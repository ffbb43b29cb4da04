import { checkOptionalString, checkOptionalText, checkOptions, checkRecord, invalidOption } from '../args.js';
import type { ConnectOptions, Transport } from './options.js';

/**
 * Target identity: what makes two connects reach the same controller, and whether an existing
 * controller is the one a connect names. The rule is Linux's (drivers/nvme/host/fabrics.c,
 * nvmf_ctlr_matches_baseopts and nvmf_ip_options_match, which every transport's duplicate
 * check calls): each field is strcmp'd as the option string gave it, so case counts
 * ("FE80::1" and "fe80::1" are two targets to the kernel, and both appear in sysfs as written).
 */

/**
 * A target in the shape the registry's connect intents record (`subsysnqn` is the kernel's
 * name for `nqn`). Values are kept as given: the kernel compares them so.
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

/** A controller as sysfs shows it (the kernel port's ControllerInfo fits). */
export interface ObservedTarget {
  transport: string;
  subsysnqn: string;
  hostnqn?: string | null;
  address: { traddr?: string; trsvcid?: string; host_traddr?: string; host_iface?: string };
}

const TARGET_FIELDS = [
  'transport',
  'subsysnqn',
  'traddr',
  'trsvcid',
  'hostnqn',
  'host_traddr',
  'host_iface',
] as const;
type TargetField = (typeof TARGET_FIELDS)[number];
const ADDRESS_FIELDS = ['traddr', 'trsvcid', 'host_traddr', 'host_iface'] as const;
/** The connect option a field comes from. */
const optionOf = (k: TargetField): string => (k === 'subsysnqn' ? 'nqn' : k);

/** The identity of parsed connect options. */
export function targetIdentity(opts: ConnectOptions): TargetIdentity {
  const what = 'targetIdentity';
  const o = checkOptions(opts, what, TARGET_FIELDS.map(optionOf));
  const t: Partial<Record<TargetField, string>> = {};
  for (const k of TARGET_FIELDS) {
    const v = checkOptionalString(o[optionOf(k)], what, optionOf(k));
    if (v !== undefined) t[k] = v;
  }
  if (t.transport === undefined || t.subsysnqn === undefined)
    throw invalidOption(what, 'transport and nqn are required');
  return t as TargetIdentity;
}

/** A target's fields, type-checked and read once: strings or absent. */
function readTarget(v: unknown, what: string): Partial<Record<TargetField, string>> {
  const t = checkRecord(v, what, TARGET_FIELDS);
  const out: Partial<Record<TargetField, string>> = {};
  for (const k of TARGET_FIELDS) {
    const s = checkOptionalText(t[k], what, k);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** A controller's identity fields in the target's shape, type-checked and read once. */
function readObserved(v: unknown, what: string): Partial<Record<TargetField, string>> {
  const c = checkRecord(v, `${what} controller`, ['transport', 'subsysnqn', 'hostnqn', 'address']);
  const a = checkRecord(c.address, `${what} controller address`, ADDRESS_FIELDS);
  const out: Partial<Record<TargetField, string>> = {};
  const put = (k: TargetField, x: unknown, name: string): void => {
    const s = checkOptionalText(x, what, `controller.${name}`);
    if (s !== undefined) out[k] = s;
  };
  put('transport', c.transport, 'transport');
  put('subsysnqn', c.subsysnqn, 'subsysnqn');
  put('hostnqn', c.hostnqn, 'hostnqn');
  for (const k of ADDRESS_FIELDS) put(k, a[k], `address.${k}`);
  return out;
}

/** The comparison of one identity field: the kernel's strcmp, case and all. */
export function sameField(a: string, b: string): boolean {
  return a === b;
}

/**
 * How a field's absence counts:
 * - `exact`: absent is the empty string, and must equal the other side (the kernel's rule);
 * - `named`: compared only when both sides name it (a value the kernel fills in by default,
 *   such as the host NQN, is unknown to us when the connect leaves it out).
 */
type Absence = 'exact' | 'named';

/**
 * `connect`: whether a connect to the target would reach this controller (the kernel's
 * EALREADY test): transport, subsystem, traddr, trsvcid, host_traddr and host_iface equal,
 * absent counting as empty; the host NQN only when both name it.
 * `possible`: whether the controller could be the target's, every field compared only when
 * both sides name it (the registry's connect intents: a false match delays a disconnect for
 * the length of a connect, a false miss could tear down a controller about to be owned).
 */
export type MatchRule = 'connect' | 'possible';

const RULES: Readonly<Record<MatchRule, Readonly<Record<TargetField, Absence>>>> = {
  connect: {
    transport: 'exact',
    subsysnqn: 'exact',
    traddr: 'exact',
    trsvcid: 'exact',
    host_traddr: 'exact',
    host_iface: 'exact',
    hostnqn: 'named',
  },
  possible: {
    transport: 'exact',
    subsysnqn: 'exact',
    traddr: 'named',
    trsvcid: 'named',
    host_traddr: 'named',
    host_iface: 'named',
    hostnqn: 'named',
  },
};

/** Whether `controller` matches `target` under `rule` (default `connect`). */
export function targetMatches(
  target: TargetIdentity,
  controller: ObservedTarget,
  rule: MatchRule = 'connect',
): boolean {
  const what = 'targetMatches';
  if (rule !== 'connect' && rule !== 'possible')
    throw invalidOption(what, 'rule must be "connect" or "possible"');
  const t = readTarget(target, `${what} target`);
  const c = readObserved(controller, what);
  for (const k of TARGET_FIELDS) {
    const a = t[k] ?? '';
    const b = c[k] ?? '';
    if (RULES[rule][k] === 'named' && (a === '' || b === '')) continue;
    if (!sameField(a, b)) return false;
  }
  return true;
}

/** A stable string key of a target, for sets and maps. */
export function targetKey(target: TargetIdentity): string {
  const t = readTarget(target, 'targetKey');
  return [t.transport, t.traddr, t.trsvcid, t.subsysnqn, t.hostnqn, t.host_traddr, t.host_iface]
    .map((v) => v ?? '')
    .join('|');
}

/**
 * A controller's identity as the registry records it (DESIGN §4a): the fields of its target that the
 * kernel keeps for the controller's whole life (sysfs `transport`, `subsysnqn`, `hostnqn`
 * and the `address` fields but `src_addr`, which changes on reconnect).
 */
export interface ControllerIdentity {
  transport: string;
  subsysnqn: string;
  traddr?: string;
  trsvcid?: string;
  host_traddr?: string;
  host_iface?: string;
  hostnqn?: string;
}

export const IDENTITY_FIELDS = [
  'transport',
  'subsysnqn',
  'traddr',
  'trsvcid',
  'host_traddr',
  'host_iface',
  'hostnqn',
] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

/** The identity of a controller as the kernel port describes it. */
export function identityOf(c: ObservedTarget): ControllerIdentity {
  const id: ControllerIdentity = { transport: c.transport, subsysnqn: c.subsysnqn };
  const put = (f: Exclude<IdentityField, 'transport' | 'subsysnqn'>, v: string | null | undefined): void => {
    if (typeof v === 'string' && v !== '') id[f] = v;
  };
  put('traddr', c.address.traddr);
  put('trsvcid', c.address.trsvcid);
  put('host_traddr', c.address.host_traddr);
  put('host_iface', c.address.host_iface);
  put('hostnqn', c.hostnqn);
  return id;
}
