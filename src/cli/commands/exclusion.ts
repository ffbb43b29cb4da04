import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `nvmf exclusion list|add|remove`: upstream nvme-cli's exclusion lists (docs/exclusions.md). */
export function register(program: Command, ctx: CliContext): void {
  const ex = program
    .command('exclusion')
    .description('targets connect-all and discover must not connect (upstream nvme-cli exclusion lists)');
  ex.command('list')
    .description('every entry of the default list and the drop-in lists, and the lines skipped')
    .addHelpText(
      'after',
      `
Files: <etc>/nvme/exclusions.conf and <etc>/nvme/exclusions.conf.d/NAME.conf
(NVMF_ETC_ROOT, default /etc). Exit 1 when a line or file was skipped (each is
listed with file and line).

Examples:
  nvmf exclusion list
  nvmf exclusion list -o json`,
    )
    .action(async () => {
      const { runExclusionList } = await import('../exclusion.js');
      await runExclusionList(ctx);
    });
  for (const verb of ['add', 'remove'] as const) {
    ex.command(verb)
      .description(
        verb === 'add'
          ? 'add an entry (key=value;... with the connect option names) to a list'
          : 'remove every line of a list holding this entry (same fields and values)',
      )
      .argument('<entry>', 'e.g. "transport=tcp;traddr=192.0.2.10;nqn=NQN"')
      .option('--list <name>', 'the drop-in list exclusions.conf.d/NAME.conf instead of the default list')
      .addHelpText(
        'after',
        `
Keys: transport, traddr, trsvcid, nqn, host-traddr, host-iface, hostnqn, hostid.

Examples:
  nvmf exclusion ${verb} "nqn=nqn.2014-08.org.example:vol1"
  nvmf exclusion ${verb} "transport=tcp;traddr=192.0.2.10" --list lab`,
      )
      .action(async (entry: string, opts: { list?: string }) => {
        const { runExclusionEdit } = await import('../exclusion.js');
        await runExclusionEdit(ctx, verb, entry, opts.list ?? null);
      });
  }
}
