import type { CliContext } from '../../src/cli/plugin-api.js';
import { NvmfError } from '../../src/index.js';

/**
 * `[y/N]` before a change that can make a controller look unowned (owner change, entry or
 * owner removal): on a terminal unless `--yes`; without a terminal and without `--yes` it
 * refuses (a script must say what it means). A "no" aborts with exit 1, nothing changed.
 */
export async function confirmChange(
  ctx: CliContext,
  yes: boolean | undefined,
  question: string,
): Promise<void> {
  if (yes) return;
  if (!(await ctx.confirmYesNo(question, '--yes'))) {
    throw new NvmfError('EABORTED', 'aborted; nothing was changed', {});
  }
}
