import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('list')
    .description('list registry entries of existing controllers (with --all also stale ones)')
    .option('--all', 'include stale entries (controller gone, udev cleanup pending or missed)')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry list\n  nvmf registry list --all -v\n  nvmf registry list -o json',
    )
    .action(async (opts: { all?: boolean }) => {
      const { openRegistry } = await import('../open.js');
      const { renderTable, verdictJson, verdictText } = await import('../../../src/cli/plugin-api.js');
      const reg = await openRegistry(ctx, false);
      // Judged against one listing of the controllers, as list -v and disconnect-all judge.
      const { kernel } = await ctx.kernel();
      const { live, stale } = reg.list({ controllers: await kernel.listControllers() });
      const entries = opts.all ? [...live, ...stale] : live;
      const json = {
        entries: entries.map((e) => ({
          device: e.device,
          owner: e.owner,
          seqnum: e.seqnum,
          attrs: e.attrs,
          live: e.live,
          verdict: verdictJson(e.verdict),
          ...(e.error ? { error: e.error.message } : {}),
        })),
      };
      ctx.result(json, () => {
        const verbose = ctx.verbose() > 0;
        const header = [
          'Device',
          'Owner',
          ...(verbose ? ['Seqnum'] : []),
          ...(opts.all ? ['State'] : []),
          'Attributes',
        ];
        const rows = entries.map((e) => [
          e.device,
          verdictText(e.verdict),
          ...(verbose ? [e.seqnum === null ? '-' : String(e.seqnum)] : []),
          ...(opts.all ? [e.live ? 'live' : 'stale'] : []),
          Object.entries(e.attrs)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        ]);
        return renderTable(header, rows);
      });
      for (const e of entries) {
        if (e.verdict.kind === 'unknown' || e.verdict.kind === 'previous')
          ctx.note(
            `warning: ${e.device}: ${e.verdict.kind === 'unknown' ? 'owner unknown, ' : ''}${e.verdict.reason}`,
          );
      }
      if (!opts.all && stale.length > 0) {
        ctx.note(
          `${stale.length} stale entr${stale.length === 1 ? 'y' : 'ies'} hidden; see them with --all, remove them with 'nvmf registry gc'`,
        );
      }
    });
}
