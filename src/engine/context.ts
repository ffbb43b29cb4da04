import { checkOptionalFunction, checkRecord, describe, invalidOption } from '../args.js';
import type { Auditor } from '../audit/event.js';
import type { Kernel } from '../kernel/port.js';
import type { Registry } from '../registry/registry.js';

/** What every engine flow works with, injected so tests can run it on the simulated kernel. */
export interface EngineContext {
  readonly kernel: Kernel;
  readonly registry: Registry;
  readonly audit: Auditor;
  /** Clock in ms (waits and timeouts). */
  readonly now?: () => number;
  /** Sleep used by polling waits. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export const defaultSleep = (ms: number): Promise<void> => {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0)
    return Promise.reject(invalidOption('defaultSleep', `ms must be a number >= 0, got ${describe(ms)}`));
  return new Promise((r) => setTimeout(r, ms));
};

const KERNEL_METHODS = [
  'connect',
  'supportedOptions',
  'listControllers',
  'controller',
  'deviceNodeExists',
  'ueventSeqnum',
  'bootId',
  'deleteController',
  'namespaces',
  'hostSnapshot',
  'blockDeviceExists',
  'discoveryLogPage',
] as const;

/**
 * An engine context (or the options of an Engine) checked by shape: a kernel with the
 * methods of Kernel, a registry, an auditor, and optional clock and sleep functions. Read
 * once into a plain object, so no getter runs again later.
 */
export function checkContext(v: unknown, what: string): EngineContext {
  const c = checkRecord(v, what, ['kernel', 'registry', 'audit', 'now', 'sleep']);
  checkKernel(c.kernel, what);
  checkRegistry(c.registry, what);
  checkAuditor(c.audit, what);
  const now = checkOptionalFunction<() => number>(c.now, what, 'now');
  const sleep = checkOptionalFunction<(ms: number) => Promise<void>>(c.sleep, what, 'sleep');
  return {
    kernel: c.kernel as Kernel,
    registry: c.registry as Registry,
    audit: c.audit as Auditor,
    ...(now !== undefined ? { now } : {}),
    ...(sleep !== undefined ? { sleep } : {}),
  };
}

/** Audit a record; an auditor failure never undoes or fails the operation it describes. */
export function audit(ctx: EngineContext, event: Parameters<Auditor['record']>[0]): void {
  try {
    ctx.audit.record(event);
  } catch {
    // the operation already happened; losing its record is the lesser harm
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `v` has the methods of Kernel, or `what` is refused with EINVALID_OPTION. */
export function checkKernel(v: unknown, what: string): Kernel {
  const k = checkRecord(v, `${what} kernel`, KERNEL_METHODS);
  for (const m of KERNEL_METHODS)
    if (typeof k[m] !== 'function') throw invalidOption(what, `kernel is not a Kernel: it has no ${m}()`);
  return v as Kernel;
}

const REGISTRY_METHODS = [
  'create',
  'read',
  'list',
  'claim',
  'liveIntents',
  'withLock',
  'ownershipChange',
] as const;

/** `v` has the methods of Registry the engine calls. */
export function checkRegistry(v: unknown, what: string): Registry {
  const r = checkRecord(v, `${what} registry`, REGISTRY_METHODS);
  for (const m of REGISTRY_METHODS)
    if (typeof r[m] !== 'function') throw invalidOption(what, `registry is not a Registry: it has no ${m}()`);
  return v as Registry;
}

/** `v` is an Auditor (has record()). */
export function checkAuditor(v: unknown, what: string): Auditor {
  if (typeof checkRecord(v, `${what} audit`, ['record']).record !== 'function')
    throw invalidOption(what, 'audit is not an Auditor: it has no record()');
  return v as Auditor;
}
