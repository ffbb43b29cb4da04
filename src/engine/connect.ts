import { checkOptionalBoolean, checkOptionalFunction, checkOptionalNumber, checkOptions } from '../args.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo } from '../kernel/port.js';
import { type ConnectIntent, intentMatches } from '../registry/intents.js';
import { verdictOwner, verdictWords } from '../registry/verdict.js';
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
  /** Limit of that wait (default 10 s), and of the wait for another connect of the same target. */
  waitTimeoutMs?: number;
  /** Called once when this connect starts waiting for another process's connect of its target. */
  onWait?: (info: { device: string; pid: number; owner: string }) => void;
}

export interface ConnectResult {
  device: string;
  cntlid: number | null;
  owner: string | null;
  reused: boolean;
  namespaces: string[];
  /** What a reuse changed about the owner, in words ("disowned from stas"); absent when nothing. */
  change?: string;
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
  const r = checkOptions(v, what, ['owner', 'force', 'wait', 'waitTimeoutMs', 'onWait']);
  const out: ConnectRequest = {};
  // the owner's own check (ownerIntent) names what is wrong with it
  if (r.owner !== undefined) out.owner = r.owner as string | null;
  const force = checkOptionalBoolean(r.force, what, 'force');
  const wait = checkOptionalBoolean(r.wait, what, 'wait');
  const waitTimeoutMs = checkOptionalNumber(r.waitTimeoutMs, what, 'waitTimeoutMs');
  if (force !== undefined) out.force = force;
  if (wait !== undefined) out.wait = wait;
  if (waitTimeoutMs !== undefined) out.waitTimeoutMs = waitTimeoutMs;
  const onWait = checkOptionalFunction<NonNullable<ConnectRequest['onWait']>>(r.onWait, what, 'onWait');
  if (onWait !== undefined) out.onWait = onWait;
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
    const found = await findExisting(ctx, target);
    // Another connect still at work on it is waited for: if it fails, connect anew.
    const existing = found === null ? null : await afterOtherConnect(ctx, found, target, null, req);
    if (existing !== null) return reuse(ctx, existing, who, req);
  }

  const intent: ConnectIntent | null =
    who.kind === 'claim' ? ctx.registry.beginConnect(target, who.owner) : null;
  let result: ConnectResult;
  try {
    // Entries stamped after this were written for a controller made after it (ours, or one
    // a concurrent claim took): the no-owner path below keeps those.
    const before = ctx.kernel.ueventSeqnum();
    let reply: { instance: number; cntlid: number };
    for (let round = 1; ; round++) {
      try {
        reply = await ctx.kernel.connect(optionString.value);
        break;
      } catch (e) {
        // Someone connected the same target since we looked: that is a reuse, not a failure,
        // once their connect is over; if it failed, connect again (once).
        if (isNvmfError(e, 'EKERNEL') && e.details.errno === 'EALREADY') {
          const found = await findExisting(ctx, target);
          const existing = found === null ? null : await afterOtherConnect(ctx, found, target, intent, req);
          if (existing !== null) return reuse(ctx, existing, who, req);
          if (round < 2) continue;
        }
        throw e;
      }
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
      } else {
        // A fresh controller has no owner: an entry left on this (recycled) instance is
        // stale, unless it was stamped after this connect began (a claim of this controller
        // by a connect that met it here, which owns it now).
        await reg.withLock(device, async () => {
          if (staleBefore(reg, device, before)) reg.delete(device);
        });
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
  // a controller of another subsystem never matches (targetMatches compares it exactly)
  const controllers = await ctx.kernel.listControllers({ subsysnqn: target.subsysnqn });
  return controllers.find((c) => c.fabrics && c.state !== 'deleting' && targetMatches(target, c)) ?? null;
}

/**
 * Whether `device` has an entry stamped no later than `before` (or with no stamp), which a
 * controller created after `before` cannot have written; an unreadable one counts (delete
 * removes it).
 */
function staleBefore(reg: EngineContext['registry'], device: string, before: number): boolean {
  try {
    const e = reg.read(device);
    return e !== null && (e.seqnum === null || e.seqnum <= before || e.verdict.kind === 'previous');
  } catch {
    return true;
  }
}

/**
 * Racing connects have one winner (DESIGN §4 race 4): `c` matches the target, and while
 * another process's live connect intent announces it (its connect is still at work: the
 * intent ends only once its entry is written), wait, bounded by this connect's own timeout.
 * Then the controller as it is now: null when that connect failed (connect anew), else the
 * one to reuse, whose owner the reuse rules judge (a different one is a conflict naming it).
 */
async function afterOtherConnect(
  ctx: EngineContext,
  c: ControllerInfo,
  target: TargetIdentity,
  own: ConnectIntent | null,
  req: ConnectRequest,
): Promise<ControllerInfo | null> {
  const now = ctx.now ?? Date.now;
  const sleep = ctx.sleep ?? defaultSleep;
  const timeoutMs = req.waitTimeoutMs ?? DEFAULT_WAIT_MS;
  const deadline = now() + timeoutMs;
  let waited = false;
  for (;;) {
    const other = ctx.registry.liveIntents().find((i) => i.path !== own?.record.path && intentMatches(i, c));
    if (other === undefined) break;
    if (now() >= deadline) {
      throw new NvmfError(
        'ETIMEDOUT',
        `${c.device} is still being connected by another process (pid ${other.pid}, owner "${other.owner}") after ${timeoutMs} ms; retry later`,
        { device: c.device, owner: other.owner, pid: other.pid },
      );
    }
    if (!waited) req.onWait?.({ device: c.device, pid: other.pid, owner: other.owner });
    waited = true;
    await sleep(WAIT_POLL_MS);
  }
  return waited ? findExisting(ctx, target) : c;
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
    return reuseOwner(ctx, now, who, req);
  });
  audit(ctx, {
    action: 'connect',
    device,
    owner: owner.owner,
    reason: `reused an existing controller${owner.change !== undefined ? `; ${owner.change}` : ''}`,
    extra: { cntlid: c.cntlid ?? -1 },
  });
  const namespaces =
    req.wait === true
      ? await waitReady(ctx, device, req.waitTimeoutMs ?? DEFAULT_WAIT_MS)
      : await presentNamespaces(ctx, device);
  return {
    device,
    cntlid: c.cntlid,
    owner: owner.owner,
    reused: true,
    namespaces,
    ...(owner.change !== undefined ? { change: owner.change } : {}),
  };
}

/**
 * The owner side of a reuse, judged by the ownership verdict of `c` (the controller as
 * re-read under the lock, which the caller holds; registry calls re-enter it): with no owner
 * the entry is left alone; an empty owner disowns, and a claim takes it, each a conflict
 * unless forced when someone else owns it or its owner is unknown. A previous controller's
 * entry counts as unowned.
 */
function reuseOwner(
  ctx: EngineContext,
  c: ControllerInfo,
  who: OwnerIntent,
  req: ConnectRequest,
): { owner: string | null; change?: string } {
  const reg = ctx.registry;
  const device = c.device;
  const v = reg.verdict(device, c);
  const current = verdictOwner(v);
  if (who.kind === 'none') return { owner: current };
  const taken =
    v.kind === 'unknown' || (v.kind === 'owned' && (who.kind === 'disown' || v.owner !== who.owner));
  if (taken && req.force !== true) {
    const fix =
      who.kind === 'disown'
        ? 'connect --owner= --force to disown it'
        : `connect --force to take it over${current === null ? '' : ` from "${current}"`}, or use another owner`;
    throw new NvmfError(
      'EOWNER_CONFLICT',
      `${device} is already connected to this target and ${verdictWords(v)}; ${fix}`,
      { device, owner: current, expected: who.kind === 'claim' ? who.owner : null },
    );
  }
  if (who.kind === 'disown') {
    // the registry records the disown (if there was an owner); the connect record says why
    reg.disown(device, { force: true });
    if (v.kind === 'owned') return { owner: null, change: `disowned from ${JSON.stringify(v.owner)}` };
    return v.kind === 'unknown'
      ? { owner: null, change: 'disowned (its owner was unknown)' }
      : { owner: null };
  }
  // Compare-and-set against the verdict just judged, in one locked step that also creates
  // the entry of a controller connected outside the registry (stamped now: its later remove
  // event still has a higher seqnum), so a concurrent claimer is never overwritten.
  const seqnum = ctx.kernel.ueventSeqnum();
  reg.claim(device, who.owner, req.force === true ? { force: true, seqnum } : { expect: current, seqnum });
  if (current === who.owner) return { owner: who.owner };
  const change =
    v.kind === 'owned'
      ? `claimed from ${JSON.stringify(v.owner)}`
      : v.kind === 'unknown'
        ? 'claimed (its owner was unknown)'
        : v.kind === 'previous'
          ? "claimed (the entry was a previous controller's)"
          : 'claimed';
  return { owner: who.owner, change };
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
