import { checkEntries, checkOptionalFunction, checkOptionalNumber, checkOptions } from '../args.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo } from '../kernel/port.js';
import { checkOwner } from '../registry/names.js';
import { verdictOwner } from '../registry/verdict.js';
import { checkConnectRequest, type ConnectResult, connect, describe, targetText } from './connect.js';
import { audit, checkContext, type EngineContext, errorMessage } from './context.js';
import { type DiscoveryLogEntry, decodeDiscoveryLog, SUBTYPE, trtypeName } from '../nvme/discovery-log.js';
import { DISCOVERY_NQN } from '../nvme/nqn.js';
import {
  appliesTo,
  CONNECT_OPTION_SPECS,
  type ConnectOptionSpec,
  type ConnectOptions,
  optionSpec,
} from '../nvme/options.js';
import { type TargetIdentity, targetIdentity, targetMatches } from '../nvme/target.js';
import { type ConnectInput, parseConnectOptions } from './options.js';
import { mapPool } from './pool.js';
import type { ExclusionTarget } from '../exclusions/entry.js';

export interface DiscoverRequest {
  /** The caller's owner name: discovery controllers owned by anyone else are not used. */
  owner?: string | null;
  /** How many referral hops to follow (default 8). */
  maxReferralDepth?: number;
  /**
   * An extra check of an existing discovery controller the engine is about to use (the first
   * service and every referral), after the owner check passed: return a reason to skip it
   * (a CLI plugin's policy), or null to use it.
   */
  vetoController?: (c: ControllerInfo, owner: string | null) => Promise<string | null> | string | null;
  /**
   * The exclusion lists' check (docs/exclusions.md): a reason when the target must not be
   * connected, else null. Asked of every referral before it is followed and of every entry
   * connect-all would connect; the discovery service the caller named is not asked.
   */
  excluded?: (target: ExclusionTarget) => string | null;
}

/** A decoded log entry with its transport name and the discovery service that served it. */
export interface DiscoveredEntry extends Omit<DiscoveryLogEntry, 'tsas'> {
  /** `tcp`, `rdma`, `fc`, `loop`, or null for a TRTYPE we do not know. */
  transport: string | null;
  kind: 'nvm' | 'referral' | 'current-discovery' | 'unknown';
  /** `transport traddr:trsvcid` of the discovery service that listed it. */
  source: string;
}

export interface DiscoverSkip {
  source: string;
  reason: string;
}

export interface DiscoverResult {
  entries: DiscoveredEntry[];
  /** Discovery services not used (owned by someone else, or already visited). */
  skipped: DiscoverSkip[];
  /** Referrals that could not be read; the first service's failure is thrown instead. */
  failures: DiscoverSkip[];
}

const DEFAULT_MAX_DEPTH = 8;
function visitKey(t: TargetIdentity): string {
  return `${t.transport}|${t.traddr ?? ''}|${t.trsvcid ?? ''}`;
}

function kindOf(subtype: number): DiscoveredEntry['kind'] {
  if (subtype === SUBTYPE.nvm) return 'nvm';
  if (subtype === SUBTYPE.referral) return 'referral';
  if (subtype === SUBTYPE.currentDiscovery) return 'current-discovery';
  return 'unknown';
}

/**
 * The host-side options of the discovery connect (the table's `carry`) that pass on to a
 * referral or connect over `transport`: those that apply to it.
 */
function hostOptionsFor(base: ConnectOptions, transport: string): ConnectInput {
  const out: ConnectInput = {};
  for (const spec of CONNECT_OPTION_SPECS) {
    const v = base[spec.name];
    if (v === undefined || spec.carry === undefined || !appliesTo(spec, transport)) continue;
    if (spec.carry === 'same-transport' && transport !== base.transport) continue;
    (out as Record<string, unknown>)[spec.name] = v;
  }
  return out;
}

/**
 * The transport ID a log entry names, as connect options: its address fields where the
 * transport takes them (the table's `only`) and the entry gives them.
 */
function entryTarget(
  e: Pick<DiscoveryLogEntry, 'traddr' | 'trsvcid'>,
  transport: string,
  nqn: string,
): ConnectInput {
  const out: ConnectInput = { transport, nqn };
  for (const name of ['traddr', 'trsvcid'] as const)
    if (e[name] !== '' && appliesTo(optionSpec(name) as ConnectOptionSpec, transport)) out[name] = e[name];
  return out;
}

/**
 * Read the discovery log of the service `input` names (nqn defaults to the discovery NQN),
 * then of every referral, once each. An existing discovery controller is used when it is
 * unowned or ours; one owned by someone else is skipped. Otherwise a temporary one is made
 * (owned by the caller while it lives) and removed afterwards.
 */
export async function discover(
  ctx: EngineContext,
  input: ConnectInput,
  request: DiscoverRequest = {},
): Promise<DiscoverResult> {
  ctx = checkContext(ctx, 'discover');
  const req = checkDiscoverRequest(request, 'discover');
  const owner =
    req.owner === undefined || req.owner === null || req.owner === '' ? null : checkOwner(req.owner);
  const first = parseConnectOptions({ nqn: DISCOVERY_NQN, ...inputOf(input, 'discover') });
  const maxDepth = req.maxReferralDepth ?? DEFAULT_MAX_DEPTH;
  const result: DiscoverResult = { entries: [], skipped: [], failures: [] };
  const visited = new Set<string>();
  const queue: Array<{ opts: ConnectOptions; depth: number }> = [{ opts: first, depth: 0 }];

  while (queue.length > 0) {
    const { opts, depth } = queue.shift() as { opts: ConnectOptions; depth: number };
    const t = targetIdentity(opts);
    const source = targetText(t).replace(` ${t.subsysnqn}`, '');
    const key = visitKey(t);
    if (visited.has(key)) {
      result.skipped.push({ source, reason: 'already visited (referral loop)' });
      continue;
    }
    visited.add(key);
    let page: DiscoveryLogEntry[] | null;
    try {
      page = await readLog(ctx, opts, owner, req.vetoController, (reason) => {
        result.skipped.push({ source, reason });
        audit(ctx, { action: 'discover-skip', owner, reason, extra: describe(t) });
      });
    } catch (e) {
      if (depth === 0) throw e;
      result.failures.push({ source, reason: errorMessage(e) });
      continue;
    }
    if (page === null) continue;
    for (const e of page) {
      const transport = trtypeName(e.trtype);
      const { tsas: _tsas, ...rest } = e;
      result.entries.push({ ...rest, transport, kind: kindOf(e.subtype), source });
      if (e.subtype !== SUBTYPE.referral || transport === null) continue;
      if (depth + 1 > maxDepth) {
        result.skipped.push({
          source: `${transport} ${e.traddr}:${e.trsvcid}`,
          reason: `referral depth limit ${maxDepth} reached`,
        });
        continue;
      }
      try {
        const next = parseConnectOptions({
          ...hostOptionsFor(first, transport),
          ...entryTarget(e, transport, DISCOVERY_NQN),
        });
        const why = req.excluded?.(exclusionTargetOf(next)) ?? null;
        if (why !== null) {
          result.skipped.push({ source: `${transport} ${e.traddr}:${e.trsvcid}`, reason: why });
          audit(ctx, { action: 'discover-skip', owner, reason: why, extra: describe(targetIdentity(next)) });
          continue;
        }
        queue.push({ opts: next, depth: depth + 1 });
      } catch (err) {
        result.failures.push({
          source: `${transport} ${e.traddr}:${e.trsvcid}`,
          reason: `bad referral: ${errorMessage(err)}`,
        });
      }
    }
  }
  return result;
}

/** What the exclusion lists are matched against: the connect options that name the target. */
export function exclusionTargetOf(o: ConnectOptions): ExclusionTarget {
  return {
    transport: o.transport,
    nqn: o.nqn,
    traddr: o.traddr ?? null,
    trsvcid: o.trsvcid ?? null,
    host_traddr: o.host_traddr ?? null,
    host_iface: o.host_iface ?? null,
    hostnqn: o.hostnqn ?? null,
    hostid: o.hostid ?? null,
  };
}

function isDiscoveryController(c: ControllerInfo): boolean {
  return c.subsystemType === 'discovery' || c.subsysnqn === DISCOVERY_NQN;
}

async function readLog(
  ctx: EngineContext,
  opts: ConnectOptions,
  owner: string | null,
  veto: DiscoverRequest['vetoController'],
  skip: (reason: string) => void,
): Promise<DiscoveryLogEntry[] | null> {
  const t = targetIdentity(opts);
  const controllers = await ctx.kernel.listControllers({ subsysnqn: t.subsysnqn });
  const existing = controllers.filter(
    (c) => c.fabrics && isDiscoveryController(c) && c.state !== 'deleting' && targetMatches(t, c),
  );
  for (const c of existing) {
    // The ownership verdict: a previous controller's entry counts as unowned, an unknown owner is not used.
    const v = ctx.registry.verdict(c.device, c);
    if (v.kind === 'unknown') {
      skip(`discovery controller ${c.device}: owner unknown (${v.reason}); not used`);
      return null;
    }
    const held = verdictOwner(v);
    if (held !== null && held !== owner) {
      skip(
        `discovery controller ${c.device} is owned by "${held}"${owner === null ? '' : `, not "${owner}"`}; not used`,
      );
      return null;
    }
    const vetoed = veto === undefined ? null : await veto(c, owner);
    if (vetoed !== null) {
      skip(`discovery controller ${c.device}: ${vetoed}; not used`);
      return null;
    }
    return decodeDiscoveryLog(await ctx.kernel.discoveryLogPage(c.device)).entries;
  }
  // A temporary controller: owned by the caller while it lives, so a concurrent
  // disconnect-all leaves it alone, and removed once the page is read.
  const made: ConnectResult = await connect(ctx, opts, owner === null ? {} : { owner });
  try {
    return decodeDiscoveryLog(await ctx.kernel.discoveryLogPage(made.device)).entries;
  } finally {
    try {
      await ctx.kernel.deleteController(made.device);
      audit(ctx, {
        action: 'disconnect',
        device: made.device,
        owner,
        reason: 'temporary discovery controller',
      });
    } catch (e) {
      if (!isNvmfError(e, 'ENO_CONTROLLER')) {
        audit(ctx, {
          action: 'disconnect-failed',
          device: made.device,
          owner,
          error: errorMessage(e),
          reason: 'temporary discovery controller',
        });
      }
    }
  }
}

export interface ConnectAllRequest extends DiscoverRequest {
  /** How many connects run at once (default 8). */
  concurrency?: number;
  force?: boolean;
  wait?: boolean;
  waitTimeoutMs?: number;
  /** Options applied to every connect (ctrl_loss_tmo, ...); host options of the discovery carry over by default. */
  connectOptions?: ConnectInput;
}

export type ConnectAllItem =
  | {
      target: { transport: string; traddr: string; trsvcid: string; subnqn: string };
      ok: true;
      result: ConnectResult;
    }
  | {
      target: { transport: string | null; traddr: string; trsvcid: string; subnqn: string };
      ok: false;
      error: string;
    };

export interface ConnectAllResult {
  discovery: DiscoverResult;
  results: ConnectAllItem[];
  /** Entries not connected because an exclusion list names them, with the reason. */
  excluded: {
    target: { transport: string; traddr: string; trsvcid: string; subnqn: string };
    reason: string;
  }[];
}

/** Discover, then connect every NVM subsystem entry (once each) with bounded concurrency. */
/** Connect options as an own copy, read once (parseConnectOptions checks the values). */
function inputOf(input: unknown, what: string): ConnectInput {
  return Object.fromEntries(checkEntries(input, `${what} options`)) as ConnectInput;
}

function checkDiscoverRequest(v: unknown, what: string): DiscoverRequest {
  const r = checkOptions(v, what, ['owner', 'maxReferralDepth', 'vetoController', 'excluded']);
  const out: DiscoverRequest = {};
  if (r.owner !== undefined) out.owner = r.owner as string | null;
  const depth = checkOptionalNumber(r.maxReferralDepth, what, 'maxReferralDepth', { integer: true });
  if (depth !== undefined) out.maxReferralDepth = depth;
  const veto = checkOptionalFunction<DiscoverRequest['vetoController']>(
    r.vetoController,
    what,
    'vetoController',
  );
  if (veto !== undefined) out.vetoController = veto;
  const excluded = checkOptionalFunction<DiscoverRequest['excluded']>(r.excluded, what, 'excluded');
  if (excluded !== undefined) out.excluded = excluded;
  return out;
}

/** A ConnectAllRequest, type-checked and read once (`what` names the caller in errors). */
export function checkConnectAllRequest(v: unknown, what = 'connectAll'): ConnectAllRequest {
  // read once, then each part checked from the copy
  const r = checkOptions(v, what, [
    'owner',
    'maxReferralDepth',
    'vetoController',
    'excluded',
    'force',
    'wait',
    'waitTimeoutMs',
    'concurrency',
    'connectOptions',
  ]);
  const out: ConnectAllRequest = { ...checkDiscoverRequest(r, what), ...checkConnectRequest(r, what) };
  const concurrency = checkOptionalNumber(r.concurrency, what, 'concurrency', { min: 1, integer: true });
  if (concurrency !== undefined) out.concurrency = concurrency;
  if (r.connectOptions !== undefined)
    out.connectOptions = inputOf(r.connectOptions, 'connectAll connectOptions');
  return out;
}

export async function connectAll(
  ctx: EngineContext,
  input: ConnectInput,
  request: ConnectAllRequest = {},
): Promise<ConnectAllResult> {
  ctx = checkContext(ctx, 'connectAll');
  const req = checkConnectAllRequest(request);
  input = inputOf(input, 'connectAll');
  const discovery = await discover(ctx, input, req);
  const base = parseConnectOptions({ nqn: DISCOVERY_NQN, ...input });
  const seen = new Set<string>();
  const excluded: ConnectAllResult['excluded'] = [];
  const optionsOf = (e: DiscoveredEntry & { transport: string }): ConnectInput => ({
    ...hostOptionsFor(base, e.transport),
    ...req.connectOptions,
    ...entryTarget(e, e.transport, e.subnqn),
  });
  const todo = discovery.entries.filter((e) => {
    if (e.kind !== 'nvm') return false;
    const k = `${e.trtype}|${e.traddr}|${e.trsvcid}|${e.subnqn}`;
    if (seen.has(k)) return false;
    seen.add(k);
    if (e.transport !== null && req.excluded !== undefined) {
      let why: string | null;
      try {
        why = req.excluded(
          exclusionTargetOf(parseConnectOptions(optionsOf(e as DiscoveredEntry & { transport: string }))),
        );
      } catch {
        why = null; // a bad entry fails in its connect below, with the reason
      }
      if (why !== null) {
        const target = { transport: e.transport, traddr: e.traddr, trsvcid: e.trsvcid, subnqn: e.subnqn };
        excluded.push({ target, reason: why });
        audit(ctx, { action: 'connect-skip', owner: req.owner ?? null, reason: why, extra: target });
        return false;
      }
    }
    return true;
  });
  const outcomes = await mapPool(todo, req.concurrency ?? 8, async (e) => {
    if (e.transport === null) {
      throw new NvmfError(
        'EDISCOVERY',
        `entry for ${e.subnqn} has unknown transport type ${e.trtype}; it cannot be connected`,
        { trtype: e.trtype },
      );
    }
    const opts = optionsOf(e as DiscoveredEntry & { transport: string });
    const request = {
      ...(req.owner !== undefined ? { owner: req.owner } : {}),
      ...(req.force !== undefined ? { force: req.force } : {}),
      ...(req.wait !== undefined ? { wait: req.wait } : {}),
      ...(req.waitTimeoutMs !== undefined ? { waitTimeoutMs: req.waitTimeoutMs } : {}),
    };
    return connect(ctx, opts, request);
  });
  const results = outcomes.map((o, i): ConnectAllItem => {
    const e = todo[i] as DiscoveredEntry;
    const target = { traddr: e.traddr, trsvcid: e.trsvcid, subnqn: e.subnqn };
    return o.ok
      ? { target: { ...target, transport: e.transport as string }, ok: true, result: o.value }
      : { target: { ...target, transport: e.transport }, ok: false, error: errorMessage(o.error) };
  });
  return { discovery, results, excluded };
}
