import { checkOptionalBoolean, checkRecord, describe, invalidOption } from '../args.js';
import { NvmfError } from '../errors.js';
import type { ControllerInfo } from '../kernel/port.js';
import type { InUseFact } from './in-use.js';
import { type ConnectIntentRecord, intentMatches } from '../registry/intents.js';
import { checkOwner } from '../registry/names.js';
import { type OwnershipVerdict, ownershipVerdict, verdictOwner } from '../registry/verdict.js';

/**
 * The disconnect-all policy (DESIGN §5's table), pure: a snapshot in, an action and a reason
 * per controller out. Execution lives in disconnect-all.ts.
 */

export interface DisconnectAllPolicy {
  /** `--owner X`: only controllers owned by X. */
  owner?: string;
  /** `--force`: every fabrics controller, owned or not. */
  force?: boolean;
  /** Only controllers of these transports (`-t tcp`). */
  transports?: readonly string[];
  /**
   * `--ignore-boot-critical`: boot devices (NBFT) are planned like any other controller.
   * The one override of the boot-critical row (engine/boot-critical.ts).
   */
  ignoreBootCritical?: boolean;
  /** `--ignore-in-use`: the in-use guard (in-use.ts) does not skip anything. */
  ignoreInUse?: boolean;
}

/**
 * What the plan needs of a registry entry: its ownership verdict, as the registry judged it
 * against the controllers the plan is made from (Registry.list({ controllers })). Without a
 * verdict (an entry made by hand) it is judged from `owner` and `error` alone: `error` set =
 * unknown, owner '' = owned by the empty name.
 */
export interface PlanEntry {
  device: string;
  owner: string | null;
  error?: { message: string; code?: string };
  verdict?: OwnershipVerdict;
}

/**
 * One controller's decision. A value: execution never changes it (it returns a new plan).
 * `controller` is the controller it was planned from, which execution compares with what
 * is there at delete time; the CLI's JSON shows the other five fields (DESIGN §10).
 */
export interface PlanItem {
  readonly device: string;
  readonly transport: string;
  readonly owner: string | null;
  readonly action: 'disconnect' | 'skip';
  readonly reason: string;
  readonly controller: ControllerInfo;
  /** An in-use skip's facts (in-use.ts); JSON shows them as `inUse`. */
  readonly inUse?: readonly InUseFact[];
}

/** The fields of a plan item the JSON contract shows (DESIGN §10), without the controller. */
export type PlanItemView = Omit<PlanItem, 'controller'>;

export function planItemView(i: PlanItem): PlanItemView {
  return {
    device: i.device,
    transport: i.transport,
    owner: i.owner,
    action: i.action,
    reason: i.reason,
    ...(i.inUse !== undefined ? { inUse: i.inUse } : {}),
  };
}

/** Check a policy's types and rules; returns it read once into a plain object. */
export function checkPolicy(p: DisconnectAllPolicy): DisconnectAllPolicy {
  const what = 'disconnect-all policy';
  const r = checkRecord(p, what, ['owner', 'force', 'transports', 'ignoreBootCritical', 'ignoreInUse']);
  const policy: DisconnectAllPolicy = {};
  if (r.owner !== undefined) policy.owner = r.owner as string;
  const force = checkOptionalBoolean(r.force, what, 'force');
  if (force !== undefined) policy.force = force;
  const ignoreBoot = checkOptionalBoolean(r.ignoreBootCritical, what, 'ignoreBootCritical');
  if (ignoreBoot !== undefined) policy.ignoreBootCritical = ignoreBoot;
  const ignoreInUse = checkOptionalBoolean(r.ignoreInUse, what, 'ignoreInUse');
  if (ignoreInUse !== undefined) policy.ignoreInUse = ignoreInUse;
  if (r.transports !== undefined) {
    if (!isStringArray(r.transports))
      throw invalidOption(
        what,
        `transports must be an array of transport names, got ${describe(r.transports)}`,
      );
    policy.transports = [...r.transports];
  }
  if (policy.owner !== undefined && policy.force === true) {
    throw new NvmfError(
      'EUSAGE',
      "--owner and --force are mutually exclusive: --owner X selects X's controllers, --force selects all; give one",
      {
        owner: policy.owner,
      },
    );
  }
  if (policy.owner !== undefined) checkOwner(policy.owner);
  return policy;
}

function isStringArray(v: unknown): v is string[] {
  try {
    return Array.isArray(v) && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** The list argument `name` of planDisconnectAll: an array of objects, each read once. */
function records<K extends string>(
  v: unknown,
  name: string,
  keys: readonly K[],
): Partial<Record<K, unknown>>[] {
  let items: unknown[];
  try {
    if (!Array.isArray(v)) throw new Error();
    items = [...(v as unknown[])];
  } catch {
    throw invalidOption('planDisconnectAll', `${name} must be an array, got ${describe(v)}`);
  }
  return items.map((x) => checkRecord(x, `planDisconnectAll ${name}`, keys));
}

function text(v: unknown, name: string, nullable = false): string | null {
  if (typeof v === 'string' || (nullable && v === null)) return v;
  throw invalidOption(
    'planDisconnectAll',
    `${name} must be a string${nullable ? ' or null' : ''}, got ${describe(v)}`,
  );
}

/**
 * `entries` as given: a Map (and its values) or anything else as the list `records` checks.
 * A value that cannot even be asked whether it is a Map (a revoked proxy) is bad input.
 */
function entriesOf(entries: unknown): { map: ReadonlyMap<string, PlanEntry> | null; list: unknown } {
  try {
    if (entries instanceof Map) return { map: entries, list: [...entries.values()] };
  } catch {
    throw invalidOption('planDisconnectAll', `entries must be an array or a Map, got ${describe(entries)}`);
  }
  return { map: null, list: entries };
}

export function planDisconnectAll(
  controllers: readonly ControllerInfo[],
  entries: readonly PlanEntry[] | ReadonlyMap<string, PlanEntry>,
  intents: readonly ConnectIntentRecord[],
  policy: DisconnectAllPolicy,
): PlanItem[] {
  policy = checkPolicy(policy);
  for (const c of records(controllers, 'controllers', ['device', 'transport', 'fabrics'])) {
    text(c.device, 'controller.device');
    text(c.transport, 'controller.transport');
    if (typeof c.fabrics !== 'boolean')
      throw invalidOption('planDisconnectAll', 'controller.fabrics must be true or false');
  }
  const given = entriesOf(entries);
  for (const e of records(given.list, 'entries', ['device', 'owner', 'error', 'verdict'])) {
    text(e.device, 'entry.device');
    text(e.owner, 'entry.owner', true);
    if (e.error !== undefined)
      text(checkRecord(e.error, 'planDisconnectAll entry.error', ['message']).message, 'entry.error.message');
    if (e.verdict !== undefined) checkVerdict(e.verdict);
  }
  for (const i of records(intents, 'intents', ['owner', 'pid', 'target'])) {
    text(i.owner, 'intent.owner');
    if (typeof i.pid !== 'number') throw invalidOption('planDisconnectAll', 'intent.pid must be a number');
  }
  const byDevice: ReadonlyMap<string, PlanEntry> =
    given.map ?? new Map((given.list as readonly PlanEntry[]).map((e) => [e.device, e]));
  const force = policy.force === true;
  const want = policy.owner;
  const transports = policy.transports && policy.transports.length > 0 ? new Set(policy.transports) : null;

  return controllers.map((c): PlanItem => {
    const entry = byDevice.get(c.device);
    const verdict = verdictOf(entry);
    const owner = verdictOwner(verdict);
    const item = (action: PlanItem['action'], reason: string): PlanItem => ({
      device: c.device,
      transport: c.transport,
      owner,
      action,
      reason,
      controller: c,
    });

    if (!c.fabrics) return item('skip', `${c.transport} controller, not fabrics: never disconnected`);
    if (transports !== null && !transports.has(c.transport)) {
      return item('skip', `transport ${c.transport} not selected (${[...transports].join(', ')})`);
    }
    // The ownership rows of DESIGN §5's table, by verdict.
    if (verdict.kind === 'unknown') {
      return force
        ? item('disconnect', `--force: owner unknown (${verdict.reason})`)
        : item('skip', `owner unknown (${verdict.reason})`);
    }
    if (owner === null) {
      const why =
        verdict.kind === 'previous'
          ? `unowned (${verdict.reason})`
          : entry === undefined
            ? 'unowned (no registry entry)'
            : 'unowned (entry has no owner)';
      if (force) return item('disconnect', `--force: ${why}`);
      if (want !== undefined) return item('skip', `unowned, not owned by ${want}`);
      const pending = intents.find((i) => intentMatches(i, c));
      if (pending !== undefined) {
        return item('skip', `connect in progress (owner ${pending.owner}, pid ${pending.pid})`);
      }
      return item('disconnect', why);
    }
    const by = owner === '' ? 'owned by the empty name ("")' : `owned by ${owner}`;
    if (force) return item('disconnect', `--force: ${by}`);
    if (want === undefined) return item('skip', by);
    if (owner === want) return item('disconnect', by);
    return item('skip', `${by}, not ${want}`);
  });
}

/** The verdict the plan works from: the registry's, or one judged from owner and error alone. */
function verdictOf(entry: PlanEntry | undefined): OwnershipVerdict {
  if (entry === undefined) return ownershipVerdict(null, null, 0);
  if (entry.verdict !== undefined) return entry.verdict;
  return ownershipVerdict(
    { owner: entry.owner, ...(entry.error !== undefined ? { error: entry.error } : {}) },
    null,
    0,
  );
}

function checkVerdict(v: unknown): void {
  const r = checkRecord(v, 'planDisconnectAll entry.verdict', ['kind', 'owner', 'reason']);
  const ok =
    (r.kind === 'owned' && typeof r.owner === 'string') ||
    r.kind === 'unowned' ||
    ((r.kind === 'unknown' || r.kind === 'previous') && typeof r.reason === 'string');
  if (!ok)
    throw invalidOption('planDisconnectAll', `entry.verdict ${describe(v)} is not an ownership verdict`);
}
