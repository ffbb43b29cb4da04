import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { DISCONNECT_ALL_TABLE } from '../help-text.js';
import { ownerArg } from '../owner-arg.js';

export interface DisconnectAllOptions {
  owner?: string;
  force?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  transport?: string[];
  ignoreBootCritical?: boolean;
  ignoreInUse?: boolean;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('disconnect-all')
    .description('disconnect fabrics controllers: by default only unowned ones (see the table below)')
    .option('--owner <name>', "only this orchestrator's controllers", ownerArg('--owner'))
    .option('--force', 'every fabrics controller, owned or not (PCIe/local ones never)')
    .option('-t, --transport <trtype>', 'only controllers of this transport (repeatable)', collect)
    .option('--ignore-boot-critical', 'plan boot devices (NBFT) like any other controller (--force does not)')
    .option(
      '--ignore-in-use',
      'also disconnect controllers whose disks are mounted, swap or held (data loss)',
    )
    .option('-y, --yes', 'do not ask for the typed confirmation')
    .option('--dry-run', 'print the plan and change nothing')
    .addHelpText(
      'after',
      `
${DISCONNECT_ALL_TABLE}

On a terminal the plan is shown and a typed 'yes' is required; without a
terminal --yes is required. Exit 3 when some disconnects failed. With the
registry plugin disabled only --force is accepted.

Examples:
  nvmf disconnect-all --dry-run
  nvmf disconnect-all --owner stas --yes
  nvmf disconnect-all -t tcp --force -o json --yes`,
    )
    .action(async (opts: DisconnectAllOptions) => {
      const { runDisconnectAll } = await import('../disconnect-all.js');
      await runDisconnectAll(ctx, opts);
    });
}
