import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/context.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('gc')
    .description("remove stale entries and crashed writers' leftovers")
    .option('--dry-run', 'report what would be removed, remove nothing')
    .addHelpText('after', '\nExamples:\n  nvmf registry gc --dry-run\n  nvmf registry gc -o json')
    .action(async (opts: { dryRun?: boolean }) => {
      const { openRegistry } = await import('../open.js');
      const reg = await openRegistry(ctx, opts.dryRun !== true);
      const report = reg.gc({ dryRun: opts.dryRun === true });
      ctx.result({ dryRun: report.dryRun, removed: report.removed, kept: report.kept }, () => {
        const verb = report.dryRun ? 'would remove' : 'removed';
        const lines = [
          ...report.removed.map((r) => `${verb} ${r.device ?? r.path} (${r.kind}): ${r.reason}\n`),
          ...report.kept.map((r) => `kept ${r.device ?? r.path} (${r.kind}): ${r.reason}\n`),
        ];
        return lines.length === 0 ? 'nothing to remove\n' : lines.join('');
      });
    });
}
