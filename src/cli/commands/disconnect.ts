import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('disconnect')
    .description('disconnect one fabrics controller (by device), or every controller of a subsystem (-n)')
    .option('-d, --device <dev>', 'nvmeN or /dev/nvmeN')
    .option('-n, --nqn <nqn>', 'every fabrics controller of this subsystem NQN')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf disconnect -d nvme3\n  nvmf disconnect -n nqn.2014-08.org.example:vol1 -o json',
    )
    .action(async (opts: { device?: string; nqn?: string }) => {
      const { runDisconnect } = await import('../disconnect.js');
      await runDisconnect(ctx, opts);
    });
}
