import type { Auditor } from '../../src/index.js';
import type { CliContext } from '../../src/cli/plugin-api.js';
import { Registry } from '../../src/index.js';

/** Reads record nothing, so they need no audit sink (and do not load one). */
const READ_ONLY: Auditor = { record() {} };

/**
 * The registry at the CLI's roots, handed the host facts of the CLI's kernel (the sim
 * kernel's with `NVMF_KERNEL=sim:DIR`). `mutating` loads the audit sink chain; read-only
 * commands skip it to start fast.
 */
export async function openRegistry(ctx: CliContext, mutating: boolean): Promise<Registry> {
  const { kernel, roots } = await ctx.kernel();
  const audit = mutating ? await ctx.auditor() : READ_ONLY;
  return Registry.open({ roots, audit, host: kernel });
}
