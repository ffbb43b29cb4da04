import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('disconnect')
    .description('disconnect one fabrics controller (by device), or every controller of a subsystem (-n)')
    .option('-d, --device <dev>', 'nvmeN or /dev/nvmeN')
    .option('-n, --nqn <nqn>', 'every fabrics controller of this subsystem NQN')
    .option('--ignore-in-use', 'disconnect even when its disks are mounted, swap or held (asks first)')
    .option('-y, --yes', 'with --ignore-in-use: do not ask for the typed confirmation')
    .addHelpText(
      'after',
      "\nA controller in use (its namespace disk, a partition or a holder above them mounted or\nswap, and no other live path) is refused; --ignore-in-use shows why and asks for a typed\n'yes' (--yes skips that).\n\nExamples:\n  nvmf disconnect -d nvme3\n  nvmf disconnect -n nqn.2014-08.org.example:vol1 -o json\n  nvmf disconnect -d nvme3 --ignore-in-use --yes",
    )
    .action(async (opts: { device?: string; nqn?: string; ignoreInUse?: boolean; yes?: boolean }) => {
      const { runDisconnect } = await import('../disconnect.js');
      await runDisconnect(ctx, opts);
    });
}
