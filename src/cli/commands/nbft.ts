import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `nvmf nbft show`: the firmware's boot table (docs/nbft.md). */
export function register(program: Command, ctx: CliContext): void {
  const nbft = program
    .command('nbft')
    .description("the firmware's NVMe-oF boot table (ACPI NBFT): what it asked for and what serves it");
  nbft
    .command('show')
    .description(
      'decode every NBFT table and name the live controller serving each subsystem entry (boot device)',
    )
    .addHelpText(
      'after',
      `
Reads /sys/firmware/acpi/tables/NBFT, NBFT1, ... (root only). Exit 1 when a
table cannot be read or decoded (the others are still shown); no table is not an
error.

Examples:
  nvmf nbft show
  nvmf nbft show -o json`,
    )
    .action(async () => {
      const { runNbftShow } = await import('../nbft.js');
      await runNbftShow(ctx);
    });
}
