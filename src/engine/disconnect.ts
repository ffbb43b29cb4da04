import type { Auditor } from '../audit/event.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo, Kernel } from '../kernel/port.js';
import { type ConnectIntentRecord, intentMatches } from '../registry/intents.js';
import { checkDevice } from '../registry/names.js';
import type { Registry } from '../registry/registry.js';
import { audit, type EngineContext, errorMessage } from './context.js';
import {
  type DisconnectAllPolicy,
  type PlanEntry,
  type PlanItem,
  planDisconnectAll,
  plannedController,
} from './plan.js';
import { mapPool } from './pool.js';

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
): Promise<{ device: string; owner: string | null }> {
  checkDevice(device);
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
  try {
    await ctx.kernel.deleteController(device);
  } catch (e) {
    audit(ctx, { action: 'disconnect-failed', device, owner, error: errorMessage(e) });
    throw e;
  }
  audit(ctx, { action: 'disconnect', device, owner });
  return { device, owner };
}

export interface DisconnectAllSnapshot {
  controllers: ControllerInfo[];
  intents: ConnectIntentRecord[];
  entries: PlanEntry[];
}

/**
 * Read the host in the order that makes connect intents work (docs/architecture.md):
 * controllers, then intents, then entries. A connector writes its intent before the kernel
 * creates the controller and ends it only after the entry exists, so any controller seen
 * here either has its intent in the second read or its entry in the third.
 */
export async function snapshotForDisconnectAll(
  ctx: Pick<EngineContext, 'kernel' | 'registry'>,
): Promise<DisconnectAllSnapshot> {
  const controllers = await ctx.kernel.listControllers();
  const intents = ctx.registry.liveIntents();
  const { live, stale } = ctx.registry.list();
  const entries: PlanEntry[] = [...live, ...stale].map((e) => ({
    device: e.device,
    owner: e.owner,
    ...(e.error !== undefined ? { error: { message: e.error.message } } : {}),
  }));
  return { controllers, intents, entries };
}

export async function planFromHost(
  ctx: Pick<EngineContext, 'kernel' | 'registry'>,
  policy: DisconnectAllPolicy,
): Promise<PlanItem[]> {
  const s = await snapshotForDisconnectAll(ctx);
  return planDisconnectAll(s.controllers, s.entries, s.intents, policy);
}

export interface ExecuteDeps {
  kernel: Kernel;
  /** Without a registry (plugin disabled, --force only) nothing is re-checked but the controller. */
  registry?: Registry;
  audit?: Auditor;
  concurrency?: number;
  /** The plan was made with --force: only the controller's identity is re-checked. */
  force?: boolean;
  /** Test hook: runs after a candidate passed its re-check, before its delete (lock held). */
  beforeDelete?: (device: string) => Promise<void>;
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
 * Execute a plan with bounded concurrency. Each candidate is re-checked right before its
 * delete: the controller must still be the one planned, and one planned as unowned must
 * still have no owner and no matching live intent. The device lock is held from the
 * re-check through the delete (DESIGN §4 race 7): no connector can publish its entry
 * between the reads, and no claim can take the controller between the re-check and the
 * delete (a reuse claim takes the same lock and finds the controller gone). A candidate that
 * fails the re-check is not deleted: its plan item is updated in place to `skip` with the
 * reason, and it gets no result. Every other candidate gets a result; failures do not stop
 * the rest.
 */
export async function executeDisconnectAll(
  items: PlanItem[],
  deps: ExecuteDeps,
): Promise<DisconnectAllResult[]> {
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
  // A candidate that turned out not to need a disconnect becomes a skip in the plan, audited.
  const skip = (item: PlanItem, reason: string): null => {
    item.action = 'skip';
    item.reason = reason;
    audit(ctxAudit, { action: 'disconnect-all-skip', device: item.device, owner: item.owner, reason });
    return null;
  };
  const outcomes = await mapPool(chosen, deps.concurrency ?? DEFAULT_DISCONNECT_CONCURRENCY, async (item) => {
    const reg = deps.force === true ? undefined : deps.registry;
    const step = async (): Promise<true | null> => {
      const why = await recheck(item, plannedController(item), deps);
      if (why !== null) return skip(item, `changed since planned: ${why}`);
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
  return results;
}

async function recheck(
  item: PlanItem,
  planned: ControllerInfo | undefined,
  deps: ExecuteDeps,
): Promise<string | null> {
  const now = await deps.kernel.controller(item.device);
  if (now === null) return 'controller is gone';
  if (planned !== undefined && !sameController(planned, now))
    return 'the instance now belongs to another controller';
  if (!now.fabrics) return 'not a fabrics controller';
  const reg = deps.registry;
  if (reg === undefined || deps.force === true) return null;
  // The caller holds the device lock.
  {
    let owner: string | null;
    try {
      owner = reg.read(item.device)?.owner ?? null;
    } catch (e) {
      return `registry entry unreadable (${errorMessage(e)})`;
    }
    if (owner !== item.owner) return owner === null ? 'owner removed' : `now owned by ${owner}`;
    if (owner === null) {
      // Read after the entry, and only when it matters: while we hold the lock no connector
      // can publish this entry, and a connector ends its intent only after publishing, so an
      // intent for this controller is still there now.
      const pending = reg.liveIntents().find((i) => intentMatches(i, now));
      if (pending !== undefined) return `connect in progress (owner ${pending.owner}, pid ${pending.pid})`;
    }
    return null;
  }
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
  const plan = await planFromHost(ctx, policy);
  if (opts.dryRun === true) return { plan };
  const results = await executeDisconnectAll(plan, {
    kernel: ctx.kernel,
    registry: ctx.registry,
    audit: ctx.audit,
    force: policy.force === true,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  return { plan, results };
}
