import type { EngineContext } from '../engine/context.js';
import type { CliContext } from './context.js';

/** The engine's dependencies from the CLI's services (kernel per NVMF_KERNEL, registry at its roots). */
export async function engineContext(ctx: CliContext): Promise<EngineContext> {
  const { kernel, roots } = await ctx.kernel();
  const audit = await ctx.auditor();
  const { Registry } = await import('../registry/registry.js');
  const registry = Registry.open({ roots, audit, host: kernel });
  return { kernel, registry, audit };
}

/** Plugin owner semantics (null = disown) to the engine's ('' = disown). */
export function engineOwner(owner: string | null | undefined): string | undefined {
  if (owner === undefined) return undefined;
  return owner === null ? '' : owner;
}
