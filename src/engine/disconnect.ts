import type { Auditor } from '../audit/event.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo, HostSnapshot, Kernel } from '../kernel/port.js';
import type { ConnectIntentRecord } from '../registry/intents.js';
import { checkDevice } from '../registry/names.js';
import type { Registry } from '../registry/registry.js';
import {
  checkOptionalBoolean,
  checkOptionalFunction,
  checkOptionalNumber,
  checkOptions,
  checkRecord,
  describe,
  invalidOption,
} from '../args.js';
import {
  audit,
  checkAuditor,
  checkContext,
  checkKernel,
  checkRegistry,
  type EngineContext,
  errorMessage,
} from './context.js';
import {
  type DisconnectAllPolicy,
  type PlanEntry,
  type PlanItem,
  checkPolicy,
  planDisconnectAll,
} from './plan.js';
import { applyInUse, type InUseFact, inUseFacts, inUseReason } from './in-use.js';
import { mapPool } from './pool.js';
import { applyBootCritical } from './boot-critical.js';
import { bootFactsOf, type NbftBootFacts } from '../nbft/boot.js';

export const DEFAULT_DISCONNECT_CONCURRENCY = 16;

export type DisconnectAllResult = { device: string; ok: true } | { device: string; ok: false; error: string };

/**
 * Disconnect one fabrics controller: write `1` to its `delete_controller`. The entry is not
 * touched here: the udev rule removes it on the remove event (guarded against recycling),
 * and gc sweeps it where no udevd runs; deleting it from here would race a reconnect that
 * takes the same instance.
 */
export async function disconnect(
  ctx: EngineContext,
  device: string,
  opts: { ignoreInUse?: boolean } = {},
): Promise<{ device: string; owner: string | null }> {
  ctx = checkContext(ctx, 'disconnect');
  checkDevice(device);
  const o = checkOptions(opts, 'disconnect', ['ignoreInUse']);
  const ignoreInUse = checkOptionalBoolean(o.ignoreInUse, 'disconnect', 'ignoreInUse') === true;
  const c = await ctx.kernel.controller(device);
  if (c === null) {
    throw new NvmfError('ENO_CONTROLLER', `${device} does not exist; list controllers with "nvmf list"`, {
      device,
    });
  }
  if (!c.fabrics) {
    throw new NvmfError(
      'EINVALID_DEVICE',
      `${device} is a ${c.transport} controller, not a fabrics one; only fabrics controllers are disconnected`,
      {
        device,
      },
    );
  }
  let owner: string | null;
  try {
    owner = ctx.registry.read(device)?.owner ?? null;
  } catch {
    owner = null;
  }
  if (!ignoreInUse) {
    const facts = await inUseOf(ctx, device);
    if (facts.length > 0) {
      audit(ctx, { action: 'disconnect-failed', device, owner, error: inUseReason(facts) });
      throw new NvmfError(
        'EIN_USE',
        `${device} is ${inUseReason(facts)}; unmount or stop using it, or pass --ignore-in-use (ignoreInUse) to disconnect it anyway`,
        { device, inUse: facts },
      );
    }
  }
  try {
    await ctx.kernel.deleteController(device);
  } catch (e) {
    audit(ctx, { action: 'disconnect-failed', device, owner, error: errorMessage(e) });
    throw e;
  }
  audit(ctx, { action: 'disconnect', device, owner });
  return { device, owner };
}

/**
 * Why deleting `device` alone would be unsafe now (in-use.ts), from a fresh read of that
 * controller, the other paths of its namespaces, mounts and swap; empty when it may go.
 */
export async function inUseOf(ctx: Pick<EngineContext, 'kernel'>, device: string): Promise<InUseFact[]> {
  checkDevice(device);
  const snap = await ctx.kernel.hostSnapshot([device]);
  return inUseFacts(snap, device, new Set());
}

export interface DisconnectAllSnapshot {
  /** The host as read once (controllers, namespaces, paths, holders, mounts, swap). */
  host: HostSnapshot;
  controllers: ControllerInfo[];
  intents: ConnectIntentRecord[];
  entries: PlanEntry[];
  /** The firmware's boot subsystems (NBFT), read through the Kernel port. */
  boot: NbftBootFacts;
}

/**
 * The kernel and, when ownership is known, the registry. Without a registry (the CLI with
 * its registry plugin disabled) the snapshot has no entries or intents: only a --force plan
 * can be made from it, and execution re-checks only the controller.
 */
export interface DisconnectAllHost {
  kernel: Kernel;
  registry?: Registry;
}

/**
 * Read the host in the order that makes connect intents work (docs/architecture.md):
 * controllers, then intents, then entries. A connector writes its intent before the kernel
 * creates the controller and ends it only after the entry exists, so any controller seen
 * here either has its intent in the second read or its entry in the third.
 */
export async function snapshotForDisconnectAll(host: DisconnectAllHost): Promise<DisconnectAllSnapshot> {
  const h = checkHost(host, 'snapshotForDisconnectAll');
  const snap = await h.kernel.hostSnapshot();
  const controllers = snap.controllers;
  const boot = await readBootFacts(h.kernel);
  if (h.registry === undefined) return { host: snap, controllers, intents: [], entries: [], boot };
  const intents = h.registry.liveIntents();
  // Judged against the controllers just listed, so each verdict is of the controller planned.
  const { live, stale } = h.registry.list({ controllers });
  const entries: PlanEntry[] = [...live, ...stale].map((e) => ({
    device: e.device,
    owner: e.owner,
    verdict: e.verdict,
    ...(e.error !== undefined ? { error: { message: e.error.message, code: e.error.code } } : {}),
  }));
  return { host: snap, controllers, intents, entries, boot };
}

/**
 * The NBFT part of the host snapshot. The tables do not change while the host runs, so when
 * they are read does not matter. Fail safe: a tables directory that cannot even be listed is
 * an unreadable table, not "no boot device".
 */
export async function readBootFacts(kernel: Kernel): Promise<NbftBootFacts> {
  try {
    return bootFactsOf(await kernel.nbftTables());
  } catch (e) {
    return { entries: [], errors: [{ table: 'NBFT', message: errorMessage(e) }] };
  }
}

/**
 * A plan from a fresh snapshot. Fail safe: without a registry nobody can tell a boot-critical
 * controller from a throwaway one, so only a --force policy is planned.
 */
export async function planFromHost(
  host: DisconnectAllHost,
  policy: DisconnectAllPolicy,
): Promise<PlanItem[]> {
  policy = checkPolicy(policy);
  const h = checkHost(host, 'planFromHost');
  if (h.registry === undefined && policy.force !== true) {
    throw new NvmfError(
      'EABORTED',
      'disconnect-all without the registry needs --force: nothing else tells a boot-critical controller from a throwaway one',
      {},
    );
  }
  const s = await snapshotForDisconnectAll(h);
  // The passes of the contract, first match wins: PCIe/transport and ownership rows
  // (plan.ts), then the guards that turn a "disconnect" into a skip: boot-critical (NBFT)
  // first, then in use.
  const owned = planDisconnectAll(s.controllers, s.entries, s.intents, policy);
  const boot = applyBootCritical(owned, s.boot, policy);
  return applyInUse(boot, s.host, { ignoreInUse: policy.ignoreInUse === true });
}

/** A kernel and, optionally, a registry, checked by shape. */
function checkHost(v: unknown, what: string): DisconnectAllHost {
  const c = checkRecord(v, what, ['kernel', 'registry']);
  const out: DisconnectAllHost = { kernel: checkKernel(c.kernel, what) };
  if (c.registry !== undefined) out.registry = checkRegistry(c.registry, what);
  return out;
}

/** The dependencies of an execution, read once and checked by shape. */
function checkExecuteDeps(v: unknown): ExecuteDeps {
  const what = 'executeDisconnectAll';
  const d = checkRecord(v, what, [
    'kernel',
    'registry',
    'audit',
    'concurrency',
    'force',
    'ignoreInUse',
    'beforeRecheck',
    'beforeDelete',
  ]);
  const out: ExecuteDeps = { kernel: checkKernel(d.kernel, what) };
  if (d.registry !== undefined) out.registry = checkRegistry(d.registry, what);
  if (d.audit !== undefined) out.audit = checkAuditor(d.audit, what);
  const concurrency = checkOptionalNumber(d.concurrency, what, 'concurrency');
  if (concurrency !== undefined) out.concurrency = concurrency;
  const force = checkOptionalBoolean(d.force, what, 'force');
  if (force !== undefined) out.force = force;
  const ignoreInUse = checkOptionalBoolean(d.ignoreInUse, what, 'ignoreInUse');
  if (ignoreInUse !== undefined) out.ignoreInUse = ignoreInUse;
  const pause = checkOptionalFunction<(device: string) => Promise<void>>(
    d.beforeRecheck,
    what,
    'beforeRecheck',
  );
  if (pause !== undefined) out.beforeRecheck = pause;
  const hook = checkOptionalFunction<(device: string) => Promise<void>>(d.beforeDelete, what, 'beforeDelete');
  if (hook !== undefined) out.beforeDelete = hook;
  return out;
}

/** A plan as planDisconnectAll made it, copied: items with a device, an action and the controller. */
function checkPlan(v: unknown): readonly PlanItem[] {
  const refuse = (): NvmfError =>
    invalidOption('executeDisconnectAll', `plan must be an array of plan items, got ${describe(v)}`);
  let items: unknown[];
  try {
    if (!Array.isArray(v)) throw refuse();
    items = [...(v as unknown[])];
  } catch (e) {
    throw isNvmfError(e) ? e : refuse();
  }
  return items.map((item) => {
    const keys = ['device', 'transport', 'owner', 'action', 'reason', 'controller', 'inUse'] as const;
    const i = checkRecord(item, 'executeDisconnectAll plan item', keys);
    const c = i.controller === undefined ? {} : checkRecord(i.controller, 'plan item controller', ['device']);
    if (
      typeof i.device !== 'string' ||
      (i.action !== 'disconnect' && i.action !== 'skip') ||
      c.device !== i.device
    )
      throw invalidOption('executeDisconnectAll', `${describe(item)} is not a plan item`);
    return i as unknown as PlanItem;
  });
}

export interface ExecuteDeps {
  kernel: Kernel;
  /** Without a registry (plugin disabled, --force only) nothing is re-checked but the controller. */
  registry?: Registry;
  audit?: Auditor;
  concurrency?: number;
  /** The plan was made with --force: ownership is not re-checked (in use still is). */
  force?: boolean;
  /** The plan was made with --ignore-in-use: in use is not re-checked. */
  ignoreInUse?: boolean;
  /** Test hook: runs before a candidate's re-check (lock held when there is a registry). */
  beforeRecheck?: (device: string) => Promise<void>;
  /** Test hook: runs after a candidate passed its re-check, before its delete (lock held). */
  beforeDelete?: (device: string) => Promise<void>;
}

/**
 * What an execution did: the plan as carried out (a new array; an item whose candidate
 * turned out not to need a disconnect is a new `skip` item with the reason), and one result
 * per disconnect attempted.
 */
export interface DisconnectAllOutcome {
  plan: PlanItem[];
  results: DisconnectAllResult[];
}

/**
 * Whether `b` is still the controller `a` was. sysfs has no generation number, so an
 * identical reconnect on the same instance passes; it is unowned exactly like the one
 * planned, and an owner or intent it has is caught by the registry re-check.
 */
export function sameController(a: ControllerInfo, b: ControllerInfo): boolean {
  return (
    a.subsysnqn === b.subsysnqn &&
    a.rawAddress === b.rawAddress &&
    a.cntlid === b.cntlid &&
    a.transport === b.transport &&
    a.hostnqn === b.hostnqn &&
    a.hostid === b.hostid
  );
}

/**
 * Execute a plan with bounded concurrency; the plan is not changed. Each candidate is
 * re-checked right before its delete: the controller must still be the one planned, and one
 * planned with an owner or unowned must still be so, with no matching live intent (asked of
 * the registry). The device lock is held from the re-check through the delete (DESIGN §4
 * race 7): no connector can publish its entry between the reads, and no claim can take the
 * controller between the re-check and the delete (a reuse claim takes the same lock and finds
 * the controller gone). A candidate that fails the re-check is not deleted: the outcome's
 * plan has it as `skip` with the reason, and it gets no result. Every other candidate gets a
 * result; failures do not stop the rest.
 */
export async function executeDisconnectAll(
  plan: readonly PlanItem[],
  deps: ExecuteDeps,
): Promise<DisconnectAllOutcome> {
  const items = checkPlan(plan);
  deps = checkExecuteDeps(deps);
  const auditor: Auditor = deps.audit ?? { record: () => {} };
  const ctxAudit = { audit: auditor } as EngineContext;
  for (const item of items) {
    if (item.action === 'skip') {
      audit(ctxAudit, {
        action: 'disconnect-all-skip',
        device: item.device,
        owner: item.owner,
        reason: item.reason,
      });
    }
  }
  const chosen = items.filter((i) => i.action === 'disconnect');
  /** Candidates that turned out not to need a disconnect, by device, with the reason (audited). */
  const skipped = new Map<string, { reason: string; inUse?: InUseFact[] }>();
  const skip = (item: PlanItem, reason: string, inUse?: InUseFact[]): null => {
    skipped.set(item.device, { reason, ...(inUse !== undefined ? { inUse } : {}) });
    audit(ctxAudit, { action: 'disconnect-all-skip', device: item.device, owner: item.owner, reason });
    return null;
  };
  /**
   * The re-check, from one fresh read of this controller's part of the host (the controller
   * alone with --ignore-in-use): the controller and its owner first, then whether it is in
   * use. Every candidate not skipped counts as going, deleted already or not, so of two
   * candidates that are the last paths of a disk mounted since the plan, the first to decide
   * stays and the other goes. The decisions and the skip are one synchronous step after the
   * read, so two candidates never decide from the same set.
   */
  const recheckNow = async (item: PlanItem, reg: Registry | undefined): Promise<null | undefined> => {
    const snap = deps.ignoreInUse === true ? null : await deps.kernel.hostSnapshot([item.device]);
    const now =
      snap === null
        ? await deps.kernel.controller(item.device)
        : (snap.controllers.find((c) => c.device === item.device) ?? null);
    const why = recheck(item, now, reg);
    if (why !== null) return skip(item, `changed since planned: ${why}`);
    if (snap === null) return undefined;
    const going = new Set(chosen.filter((c) => c !== item && !skipped.has(c.device)).map((c) => c.device));
    const facts = inUseFacts(snap, item.device, going);
    return facts.length > 0 ? skip(item, inUseReason(facts), facts) : undefined;
  };
  const outcomes = await mapPool(chosen, deps.concurrency ?? DEFAULT_DISCONNECT_CONCURRENCY, async (item) => {
    const reg = deps.force === true ? undefined : deps.registry;
    const step = async (): Promise<true | null> => {
      await deps.beforeRecheck?.(item.device);
      if ((await recheckNow(item, reg)) === null) return null;
      await deps.beforeDelete?.(item.device);
      return deleteOne(item);
    };
    // --force ignores ownership, so there is nothing for the lock to protect.
    return reg === undefined ? step() : reg.withLock(item.device, step);
  });
  async function deleteOne(item: PlanItem): Promise<true | null> {
    try {
      await deps.kernel.deleteController(item.device);
    } catch (e) {
      if (
        isNvmfError(e, 'ENO_CONTROLLER') ||
        (isNvmfError(e, 'EKERNEL') && (e.details.errno === 'ENOENT' || e.details.errno === 'ENODEV'))
      ) {
        return skip(item, 'already gone');
      }
      audit(ctxAudit, {
        action: 'disconnect-failed',
        device: item.device,
        owner: item.owner,
        error: errorMessage(e),
        reason: item.reason,
      });
      throw e;
    }
    audit(ctxAudit, {
      action: 'disconnect-all-disconnect',
      device: item.device,
      owner: item.owner,
      reason: item.reason,
    });
    return true;
  }
  const results: DisconnectAllResult[] = [];
  outcomes.forEach((o, i) => {
    const device = (chosen[i] as PlanItem).device;
    if (o.ok && o.value === null) return;
    results.push(o.ok ? { device, ok: true } : { device, ok: false, error: errorMessage(o.error) });
  });
  const carriedOut = items.map((item): PlanItem => {
    const why = item.action === 'disconnect' ? skipped.get(item.device) : undefined;
    return why === undefined ? item : { ...item, action: 'skip', ...why };
  });
  return { plan: carriedOut, results };
}

/**
 * Why `item` must not be deleted now that its controller reads as `now`, or null: the kernel
 * side here, the ownership side asked of the registry (`reg` given = the caller holds the
 * device lock).
 */
function recheck(item: PlanItem, now: ControllerInfo | null, reg: Registry | undefined): string | null {
  if (now === null) return 'controller is gone';
  if (!sameController(item.controller, now)) return 'the instance now belongs to another controller';
  if (!now.fabrics) return 'not a fabrics controller';
  return reg === undefined ? null : reg.ownershipChange(item.device, item.owner, now);
}

export interface DisconnectAllOptions {
  concurrency?: number;
  dryRun?: boolean;
}

/** Plan from a fresh snapshot, then (unless dry run) execute. */
export async function disconnectAll(
  ctx: EngineContext,
  policy: DisconnectAllPolicy,
  opts: DisconnectAllOptions = {},
): Promise<{ plan: PlanItem[]; results?: DisconnectAllResult[] }> {
  ctx = checkContext(ctx, 'disconnectAll');
  policy = checkPolicy(policy);
  const o = checkOptions(opts, 'disconnectAll', ['concurrency', 'dryRun']);
  opts = {};
  const dryRun = checkOptionalBoolean(o.dryRun, 'disconnectAll', 'dryRun');
  if (dryRun !== undefined) opts.dryRun = dryRun;
  const concurrency = checkOptionalNumber(o.concurrency, 'disconnectAll', 'concurrency');
  if (concurrency !== undefined) opts.concurrency = concurrency;
  const plan = await planFromHost(ctx, policy);
  if (opts.dryRun === true) return { plan };
  return executeDisconnectAll(plan, {
    kernel: ctx.kernel,
    registry: ctx.registry,
    audit: ctx.audit,
    force: policy.force === true,
    ignoreInUse: policy.ignoreInUse === true,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
}
