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

export const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
