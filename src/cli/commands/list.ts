import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .description('list NVMe controllers; -v adds the Orchestrator column (registry owner)')
    .addHelpText(
      'after',
      `
Orchestrator column (-v): the registry owner ("" for the empty name), '-' for
an unowned fabrics controller, '?' when the owner is unknown (entry unreadable,
junk, being written), '(previous)' when the entry belongs to a previous
controller of that instance, 'kernel' for PCIe and other local controllers
(never disconnected by disconnect-all). Long values are shortened in the middle
to fit 80 columns; -vv prints them whole, -o json always does.

Examples:
  nvmf list
  nvmf list -v
  nvmf list -o json`,
    )
    .action(async () => {
      const { listControllers, tableAddress } = await import('../list-controllers.js');
      const { renderTable } = await import('../output.js');
      const { verdictText } = await import('../../registry/verdict.js');
      const rows = await listControllers(ctx);
      ctx.result({ controllers: rows }, () => {
        const verbose = ctx.verbose() > 0;
        const header = [
          'Device',
          'Transport',
          'Address',
          'Subsystem',
          'State',
          ...(verbose ? ['Orchestrator'] : []),
        ];
        return renderTable(
          header,
          rows.map((r) => [
            r.device,
            r.transport,
            tableAddress(r.address, ctx.verbose() > 1),
            r.subsysnqn,
            r.state,
            ...(verbose ? [r.verdict === null ? 'kernel' : verdictText(r.verdict)] : []),
          ]),
        );
      });
    });
}
