import { checkOptionalBoolean, checkOptionalNumber, checkOptions } from '../args.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo } from '../kernel/port.js';
import type { ConnectIntent } from '../registry/intents.js';
import { checkDevice, checkOwner } from '../registry/names.js';
import { audit, checkContext, defaultSleep, type EngineContext, errorMessage } from './context.js';
import { sameController } from './disconnect.js';
import {
  buildOptionString,
  type ConnectInput,
  type ConnectOptions,
  parseConnectOptions,
  redactOptionString,
} from './options.js';
import { type TargetIdentity, targetIdentity, targetMatches } from '../nvme/target.js';

export interface ConnectRequest {
  /**
   * The orchestrator connecting. undefined/null = none (a reused controller's entry is left
   * alone); '' = disown; a name = claim.
   */
  owner?: string | null;
  /** Take over a controller owned by someone else. */
  force?: boolean;
  /** Wait until the controller is live and its namespaces' block devices exist. */
  wait?: boolean;
  /** Limit of that wait (default 10 s). */
  waitTimeoutMs?: number;
}

export interface ConnectResult {
  device: string;
  cntlid: number | null;
  owner: string | null;
  reused: boolean;
  namespaces: string[];
}

const DEFAULT_WAIT_MS = 10_000;
const WAIT_POLL_MS = 50;
/**
 * The kernel scans namespaces asynchronously after the connect reply, and sysfs has no
 * "scan done" flag. An empty list right after `live` usually means the scan has not run yet,
 * so it is only believed once it has stayed empty this long (a subsystem may export none).
 */
export const EMPTY_NAMESPACE_GRACE_MS = 1_000;

type OwnerIntent = { kind: 'none' } | { kind: 'disown' } | { kind: 'claim'; owner: string };

/** A ConnectRequest, type-checked and read once. */
export function checkConnectRequest(v: unknown, what: string): ConnectRequest {
  const r = checkOptions(v, what, ['owner', 'force', 'wait', 'waitTimeoutMs']);
  const out: ConnectRequest = {};
  // the owner's own check (ownerIntent) names what is wrong with it
  if (r.owner !== undefined) out.owner = r.owner as string | null;
  const force = checkOptionalBoolean(r.force, what, 'force');
  const wait = checkOptionalBoolean(r.wait, what, 'wait');
  const waitTimeoutMs = checkOptionalNumber(r.waitTimeoutMs, what, 'waitTimeoutMs');
  if (force !== undefined) out.force = force;
  if (wait !== undefined) out.wait = wait;
  if (waitTimeoutMs !== undefined) out.waitTimeoutMs = waitTimeoutMs;
  return out;
}

function ownerIntent(owner: string | null | undefined): OwnerIntent {
  if (owner === undefined || owner === null) return { kind: 'none' };
  if (owner === '') return { kind: 'disown' };
  return { kind: 'claim', owner: checkOwner(owner) };
}

/** The safe parts of a target, for audit records and messages. */
export function describe(t: TargetIdentity): Record<string, string> {
  const out: Record<string, string> = { transport: t.transport, nqn: t.subsysnqn };
  if (t.traddr !== undefined) out.traddr = t.traddr;
  if (t.trsvcid !== undefined) out.trsvcid = t.trsvcid;
  if (t.hostnqn !== undefined) out.hostnqn = t.hostnqn;
  if (t.host_traddr !== undefined) out.host_traddr = t.host_traddr;
  if (t.host_iface !== undefined) out.host_iface = t.host_iface;
  return out;
}

export function targetText(t: TargetIdentity): string {
  const addr = t.traddr === undefined ? '' : ` ${t.traddr}${t.trsvcid === undefined ? '' : `:${t.trsvcid}`}`;
  return `${t.transport}${addr} ${t.subsysnqn}`;
}

/** Secret values of the options, so any text about to leave can be scrubbed of them. */
function secretsOf(o: ConnectOptions): string[] {
  return [
    o.dhchap_secret,
    o.dhchap_ctrl_secret,
    o.tls_key === undefined ? undefined : String(o.tls_key),
  ].filter((s): s is string => s !== undefined && s.length >= 4);
}

/** Defence in depth: an adapter's message should hold no secret, but we check anyway. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('<redacted>');
  return out;
}

function scrubbedError(e: unknown, secrets: readonly string[]): unknown {
  if (!(e instanceof Error)) return e;
  const msg = scrub(e.message, secrets);
  if (isNvmfError(e)) {
    if (msg === e.message) return e;
    return new NvmfError(e.code, msg, JSON.parse(scrub(JSON.stringify(e.details), secrets)));
  }
  return msg === e.message ? e : new Error(msg);
}

/**
 * Connect (DESIGN §5). The entry is written synchronously right after the kernel's reply:
 * no await between reading `instance=N` and the rename that publishes `nvmeN`'s entry.
 */
export async function connect(
  ctx: EngineContext,
  input: ConnectInput | ConnectOptions,
  request: ConnectRequest = {},
): Promise<ConnectResult> {
  ctx = checkContext(ctx, 'connect');
  const req = checkConnectRequest(request, 'connect');
  const opts = parseConnectOptions(input as ConnectInput);
  const who = ownerIntent(req.owner);
  const secrets = secretsOf(opts);
  const target = targetIdentity(opts);
  try {
    return await connectParsed(ctx, opts, who, req);
  } catch (e) {
    const err = scrubbedError(e, secrets);
    audit(ctx, {
      action: 'connect-failed',
      owner: who.kind === 'claim' ? who.owner : null,
      error: errorMessage(err),
      extra: describe(target),
    });
    throw err;
  }
}

async function connectParsed(
  ctx: EngineContext,
  opts: ConnectOptions,
  who: OwnerIntent,
  req: ConnectRequest,
): Promise<ConnectResult> {
  const target = targetIdentity(opts);
  const optionString = buildOptionString(opts, await ctx.kernel.supportedOptions());

  if (opts.duplicate_connect !== true) {
    const existing = await findExisting(ctx, target);
    if (existing !== null) return reuse(ctx, existing, who, req);
  }

  const intent: ConnectIntent | null =
    who.kind === 'claim' ? ctx.registry.beginConnect(target, who.owner) : null;
  let result: ConnectResult;
  try {
    let reply: { instance: number; cntlid: number };
    try {
      reply = await ctx.kernel.connect(optionString.value);
    } catch (e) {
      // Someone connected the same target since we looked: that is a reuse, not a failure.
      if (isNvmfError(e, 'EKERNEL') && e.details.errno === 'EALREADY') {
        const existing = await findExisting(ctx, target);
        if (existing !== null) return reuse(ctx, existing, who, req);
      }
      throw e;
    }
    // The stamp is read at once: any remove event of this controller comes after it.
    const device = `nvme${reply.instance}`;
    const seqnum = ctx.kernel.ueventSeqnum();
    try {
      // A contended device lock (the udev helper removing the old entry of a recycled
      // instance) is awaited, never waited for on the event loop; the write under it is
      // synchronous and re-enters the lock.
      const reg = ctx.registry;
      if (who.kind === 'claim') {
        const owner = who.owner;
        await reg.withLock(device, async () => void reg.create(device, { owner, seqnum }));
      } else if (hasEntry(reg, device)) {
        // A fresh controller has no owner: an entry left on this (recycled) instance is stale.
        await reg.withLock(device, async () => void reg.delete(device));
      }
    } catch (e) {
      if (who.kind !== 'claim') {
        // nobody asked for ownership, and the controller is fine: say so, do not fail
        audit(ctx, {
          action: 'connect',
          device,
          owner: null,
          seqnum,
          reason: `stale entry not cleared: ${errorMessage(e)}`,
        });
      } else {
        throw await ownershipFailed(ctx, device, who.owner, e);
      }
    }
    result = {
      device,
      cntlid: reply.cntlid,
      owner: who.kind === 'claim' ? who.owner : null,
      reused: false,
      namespaces: [],
    };
    audit(ctx, {
      action: 'connect',
      device,
      owner: result.owner,
      seqnum,
      extra: {
        ...describe(target),
        cntlid: reply.cntlid,
        ...(optionString.dropped.length > 0 ? { dropped: optionString.dropped.join(',') } : {}),
      },
    });
  } finally {
    intent?.end();
  }
  result.namespaces =
    req.wait === true
      ? await waitReady(ctx, result.device, req.waitTimeoutMs ?? DEFAULT_WAIT_MS)
      : await presentNamespaces(ctx, result.device);
  return result;
}

/**
 * The owner could not be written: the controller we just made would look unowned to every
 * disconnect-all, which is what the caller asked us to prevent. Undo the connect and say
 * what state the host is left in.
 */
async function ownershipFailed(
  ctx: EngineContext,
  device: string,
  owner: string,
  cause: unknown,
): Promise<NvmfError> {
  const why = errorMessage(cause);
  try {
    await ctx.kernel.deleteController(device);
    return new NvmfError(
      isNvmfError(cause) ? cause.code : 'EIO',
      `connected ${device} but could not record owner "${owner}" (${why}); the controller was disconnected again, fix the registry and retry`,
      { device, owner, connected: false },
      { cause },
    );
  } catch (e) {
    return new NvmfError(
      isNvmfError(cause) ? cause.code : 'EIO',
      `connected ${device} but could not record owner "${owner}" (${why}), and disconnecting it failed (${errorMessage(e)}): ${device} stays connected WITHOUT an owner; claim it (nvmf registry claim) or disconnect it`,
      { device, owner, connected: true },
      { cause },
    );
  }
}

async function findExisting(ctx: EngineContext, target: TargetIdentity): Promise<ControllerInfo | null> {
  const controllers = await ctx.kernel.listControllers();
  return controllers.find((c) => c.fabrics && c.state !== 'deleting' && targetMatches(target, c)) ?? null;
}

/** Whether `device` has an entry to clear; an unreadable one counts (delete removes it). */
function hasEntry(reg: EngineContext['registry'], device: string): boolean {
  try {
    return reg.read(device) !== null;
  } catch {
    return true;
  }
}

async function reuse(
  ctx: EngineContext,
  c: ControllerInfo,
  who: OwnerIntent,
  req: ConnectRequest,
): Promise<ConnectResult> {
  const reg = ctx.registry;
  const device = c.device;
  // Under the device lock, the controller is re-read first: disconnect-all deletes under the
  // same lock (DESIGN §4 race 7), so a controller still here now stays until we release, and
  // an owner we record can no longer be deleted from under us by a re-check made before it.
  const owner = await reg.withLock(device, async () => {
    const now = await ctx.kernel.controller(device);
    if (now === null || now.state === 'deleting' || !sameController(c, now)) {
      throw new NvmfError(
        'ENO_CONTROLLER',
        `${device} was disconnected while this connect was reusing it (a concurrent disconnect); connect again`,
        { device },
      );
    }
    return reuseOwner(ctx, device, who, req);
  });
  audit(ctx, {
    action: 'connect',
    device,
    owner,
    reason:
      who.kind === 'disown'
        ? 'reused an existing controller; the empty owner removed its owner'
        : 'reused an existing controller',
    extra: { cntlid: c.cntlid ?? -1 },
  });
  const namespaces =
    req.wait === true
      ? await waitReady(ctx, device, req.waitTimeoutMs ?? DEFAULT_WAIT_MS)
      : await presentNamespaces(ctx, device);
  return { device, cntlid: c.cntlid, owner, reused: true, namespaces };
}

/** The owner side of a reuse; the caller holds the device lock (registry calls re-enter it). */
function reuseOwner(
  ctx: EngineContext,
  device: string,
  who: OwnerIntent,
  req: ConnectRequest,
): string | null {
  const reg = ctx.registry;
  let owner: string | null;
  if (who.kind === 'none') {
    owner = reg.read(device)?.owner ?? null;
  } else if (who.kind === 'disown') {
    // the registry records the disown (if there was an owner); the connect record says why
    reg.disown(device);
    owner = null;
  } else {
    const entry = reg.read(device);
    const current = entry?.owner ?? null;
    if (current !== null && current !== who.owner && req.force !== true) {
      throw new NvmfError(
        'EOWNER_CONFLICT',
        `${device} is already connected to this target and owned by "${current}"; connect with force to take it over from "${current}", or use another owner`,
        { device, owner: current, expected: who.owner },
      );
    }
    // Compare-and-set against what we just read, in one locked step that also creates the
    // entry of a controller connected outside the registry (stamped now: its later remove
    // event still has a higher seqnum), so a concurrent claimer is never overwritten.
    const seqnum = ctx.kernel.ueventSeqnum();
    reg.claim(device, who.owner, req.force === true ? { force: true, seqnum } : { expect: current, seqnum });
    owner = who.owner;
  }
  return owner;
}

async function presentNamespaces(ctx: EngineContext, device: string): Promise<string[]> {
  try {
    return (await ctx.kernel.namespaces(device)).filter((n) => ctx.kernel.blockDeviceExists(n));
  } catch {
    return [];
  }
}

/**
 * Wait until the controller is `live` and every namespace sysfs lists has its block device,
 * with the list unchanged over one poll (namespaces are attached one by one after connect).
 */
export async function waitReady(
  ctx: EngineContext,
  device: string,
  timeoutMs: number,
  emptyGraceMs: number = EMPTY_NAMESPACE_GRACE_MS,
): Promise<string[]> {
  ctx = checkContext(ctx, 'waitReady');
  checkDevice(device);
  checkOptionalNumber(timeoutMs, 'waitReady', 'timeoutMs');
  checkOptionalNumber(emptyGraceMs, 'waitReady', 'emptyGraceMs');
  const now = ctx.now ?? Date.now;
  const sleep = ctx.sleep ?? defaultSleep;
  const deadline = now() + timeoutMs;
  // null until the first poll of a live controller: a list is only trusted once two polls agree.
  let last: string | null = null;
  let liveSince: number | null = null;
  let state: string;
  let ns: string[] = [];
  let missing: string[] = [];
  for (;;) {
    const c = await ctx.kernel.controller(device);
    if (c === null) {
      throw new NvmfError(
        'ENO_CONTROLLER',
        `${device} disappeared while waiting for it to become live; check the target and the kernel log`,
        { device },
      );
    }
    state = c.state;
    if (state === 'live') {
      liveSince ??= now();
      ns = await ctx.kernel.namespaces(device);
      missing = ns.filter((n) => !ctx.kernel.blockDeviceExists(n));
      const key = ns.join(',');
      const stable = key === last;
      last = key;
      const scanned = ns.length > 0 || now() - liveSince >= emptyGraceMs;
      if (missing.length === 0 && stable && scanned) return ns;
    }
    if (now() >= deadline) {
      const what =
        state !== 'live'
          ? `state is "${state}", not live`
          : ns.length === 0
            ? 'no namespace has appeared yet'
            : missing.length > 0
              ? `block devices missing: ${missing.join(', ')}`
              : 'the namespace list is still changing';
      throw new NvmfError(
        'ETIMEDOUT',
        `${device} is connected (and registered) but not ready after ${timeoutMs} ms: ${what}; it stays connected, wait longer or check the target`,
        { device, state, connected: true },
      );
    }
    await sleep(WAIT_POLL_MS);
  }
}

export { redactOptionString };
