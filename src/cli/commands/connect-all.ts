import type { Command } from 'commander';
import { addConnectOptions, DISCOVERY_OPTIONS } from '../connect-options.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('connect-all')
    .description('discover, then connect every subsystem the discovery log lists')
    .option('--force', 'take over controllers already owned by another orchestrator')
    .option('--wait', 'wait until each controller is live and its namespaces have block devices')
    .option(
      '--nbft',
      "connect what the firmware's NBFT table describes (host identity from the table; owner nbft unless --owner)",
    );
  addConnectOptions(cmd, DISCOVERY_OPTIONS);
  cmd
    .addHelpText(
      'after',
      `
Exit 3 when some connects failed (one result per subsystem is printed).
Targets an exclusion list names (<etc>/nvme/exclusions.conf,
exclusions.conf.d/*.conf) are skipped with the entry that excludes them; an
NBFT entry only by an entry naming its nqn or traddr.

Examples:
  nvmf connect-all -t tcp -a 192.0.2.10 -s 8009 --owner stas
  nvmf connect-all --nbft -o json`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const { runConnectAll } = await import('../discover.js');
      await runConnectAll(ctx, opts);
    });
}
