import type { CliContext } from '../../src/cli/context.js';
import type { DisconnectAllPlan, DisconnectAllRequest } from '../../src/cli/plugin.js';

/**
 * The registry-aware plan: a snapshot of controllers, intents and entries (in that order,
 * see the engine), DESIGN's table applied by the engine, and an executor that re-checks
 * every candidate under its device lock.
 */
export async function planWithRegistry(
  req: DisconnectAllRequest,
  ctx: CliContext,
): Promise<DisconnectAllPlan> {
  const { planFromHost, executeDisconnectAll } = await import('../../src/engine/disconnect.js');
  const { Registry } = await import('../../src/registry/registry.js');
  const { kernel, roots } = await ctx.kernel();
  const audit = await ctx.auditor();
  const registry = Registry.open({ roots, audit, host: kernel });
  const items = await planFromHost({ kernel, registry }, req);
  return {
    items,
    execute: () => executeDisconnectAll(items, { kernel, registry, audit, force: req.force }),
  };
}
