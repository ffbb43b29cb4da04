import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export interface DisconnectOptions {
  device?: string;
  nqn?: string;
  yes?: boolean;
  ignoreInUse?: boolean;
  ignoreBootCritical?: boolean;
  exclude?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('disconnect')
    .description('disconnect one fabrics controller (by device), or every controller of a subsystem (-n)')
    .option('-d, --device <dev>', 'nvmeN or /dev/nvmeN')
    .option('-n, --nqn <nqn>', 'every fabrics controller of this subsystem NQN')
    .option('--ignore-in-use', 'disconnect even when its disks are mounted, swap or held (asks first)')
    .option('-y, --yes', 'do not ask for the typed confirmation (a boot device, or with --ignore-in-use)')
    .option('--ignore-boot-critical', 'disconnect a boot device (NBFT) like any other controller, unasked')
    .option(
      '--exclude',
      'add each disconnected target to the default exclusion list, so connect-all and discover leave it alone',
    )
    .addHelpText(
      'after',
      `
A controller in use (its namespace disk, a partition or a holder above them
mounted or swap, and no other live path) is refused; --ignore-in-use shows why
and asks for a typed 'yes' (--yes skips that).

A controller serving a subsystem entry of the firmware's NBFT table is the boot
device: the command shows why and asks for a typed 'yes' (without a terminal it
refuses unless --yes). When an NBFT table cannot be read, every fabrics
controller is asked about, since the boot device cannot be told.

Examples:
  nvmf disconnect -d nvme3
  nvmf disconnect -n nqn.2014-08.org.example:vol1 -o json
  nvmf disconnect -d nvme3 --ignore-in-use --yes
  nvmf disconnect -d nvme3 --exclude`,
    )
    .action(async (opts: DisconnectOptions) => {
      const { runDisconnect } = await import('../disconnect.js');
      await runDisconnect(ctx, opts);
    });
}
