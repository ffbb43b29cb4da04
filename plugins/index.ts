import type { NvmfPlugin } from '../src/cli/plugin-api.js';

/**
 * The plugins shipped in this package, by the name the configuration enables them with
 * (NVMF_PLUGINS, `<etc>/nvme/nvmf.json`). The CLI's entry hands this catalogue to the core,
 * which loads the configured ones; nothing else of the CLI names a plugin. Each loader
 * imports its plugin only when the configuration enables it.
 */
export const SHIPPED_PLUGINS = {
  registry: () => import('./registry/index.js'),
} satisfies Record<string, () => Promise<{ default: NvmfPlugin }>>;
