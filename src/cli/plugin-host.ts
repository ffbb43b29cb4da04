import { enabledPlugins, type KnownPlugin } from './config.js';
import type { CliContext } from './context.js';
import type { Registry } from '../registry/registry.js';
import type {
  ConnectOperation,
  ConnectOutcome,
  DiscoveryControllerView,
  NvmfPlugin,
  PluginHost,
} from './plugin.js';

/** How to load each known plugin, by name: handed in by the CLI's entry (plugins/index.ts). */
export type PluginCatalogue = Record<KnownPlugin, () => Promise<{ default: NvmfPlugin }>>;

export function createPluginHost(plugins: readonly NvmfPlugin[]): PluginHost {
  return {
    enabled: plugins,
    isEnabled: (name) => plugins.some((p) => p.name === name),
    async beforeConnect(op: ConnectOperation, ctx: CliContext): Promise<void> {
      for (const p of plugins) await p.beforeConnect?.(op, ctx);
    },
    async afterConnect(op: ConnectOperation, outcome: ConnectOutcome, ctx: CliContext): Promise<void> {
      for (const p of plugins) await p.afterConnect?.(op, outcome, ctx);
    },
    async checkDiscoveryController(
      controller: DiscoveryControllerView,
      op: ConnectOperation,
      ctx: CliContext,
    ): Promise<string | undefined> {
      for (const p of plugins) {
        const reason = await p.checkDiscoveryController?.(controller, op, ctx);
        if (reason !== undefined) return `${reason} (plugin ${p.name})`;
      }
      return undefined;
    },
    async disconnectAllRegistry(ctx: CliContext): Promise<Registry | undefined> {
      for (const p of plugins) {
        const registry = await p.disconnectAllRegistry?.(ctx);
        if (registry !== undefined) return registry;
      }
      return undefined;
    },
  };
}

/** Load the plugins the configuration enables (see config.ts), in configuration order. */
export async function loadPluginHost(
  env: Readonly<Record<string, string | undefined>>,
  catalogue: PluginCatalogue,
): Promise<PluginHost> {
  const names = enabledPlugins(env);
  const mods = await Promise.all(names.map((n) => catalogue[n]()));
  return createPluginHost(mods.map((m) => m.default));
}
