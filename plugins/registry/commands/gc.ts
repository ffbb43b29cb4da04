import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText } from '../../../src/cli/plugin-api.js';

/** `--grace SECONDS`: a non-negative decimal, at most millisecond precision. */
const GRACE_RE = /^(0|[1-9][0-9]{0,8})(\.[0-9]{1,3})?$/;

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('gc')
    .description("remove stale entries and crashed writers' leftovers")
    .option('--dry-run', 'report what would be removed, remove nothing')
    .option(
      '--grace <seconds>',
      'leave unfinished writes (temp, trash, attribute temps, malformed intents, old lock directories) younger than this (default 60)',
    )
    .addHelpText(
      'after',
      '\nEntries of gone controllers are judged by the udev guards, and lock files by\n' +
        'whether anyone holds them; neither waits out the grace period.\n' +
        '\nExamples:\n  nvmf registry gc --dry-run\n  nvmf registry gc --grace 0 -o json',
    )
    .action(async (opts: { dryRun?: boolean; grace?: string }) => {
      let graceMs: number | undefined;
      if (opts.grace !== undefined) {
        if (!GRACE_RE.test(opts.grace)) {
          const { NvmfError } = await import('../../../src/index.js');
          throw new NvmfError(
            'EUSAGE',
            `--grace ${JSON.stringify(opts.grace)} is not a number of seconds (0 or more, e.g. 60 or 0.5)`,
            { value: opts.grace },
          );
        }
        graceMs = Math.round(Number(opts.grace) * 1000);
      }
      const { openRegistry } = await import('../open.js');
      const reg = await openRegistry(ctx, opts.dryRun !== true);
      const report = reg.gc({ dryRun: opts.dryRun === true, ...(graceMs !== undefined ? { graceMs } : {}) });
      ctx.result({ dryRun: report.dryRun, removed: report.removed, kept: report.kept }, () => {
        const verb = report.dryRun ? 'would remove' : 'removed';
        const lines = [
          ...report.removed.map(
            (r) => `${verb} ${escapeText(r.device ?? r.path)} (${r.kind}): ${escapeText(r.reason)}\n`,
          ),
          ...report.kept.map(
            (r) => `kept ${escapeText(r.device ?? r.path)} (${r.kind}): ${escapeText(r.reason)}\n`,
          ),
        ];
        return lines.length === 0 ? 'nothing to remove\n' : lines.join('');
      });
    });
}
