import type { Command } from 'commander';
import { addConnectOptions, CONNECT_OPTIONS } from '../connect-options.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('connect')
    .description('connect to an NVMe over Fabrics subsystem and record its owner')
    .option('--force', 'take over a controller already owned by another orchestrator')
    .option('--wait', 'wait until the controller is live and its namespaces have block devices');
  addConnectOptions(cmd, CONNECT_OPTIONS);
  cmd
    .addHelpText(
      'after',
      `
Host NQN and host ID default to <etc>/nvme/hostnqn and <etc>/nvme/hostid
(NVMF_ETC_ROOT, default /etc). Connecting to an existing controller reuses it:
with --owner it is claimed, --owner= disowns it.

Examples:
  nvmf connect -t tcp -a 192.0.2.10 -s 4420 -n nqn.2014-08.org.example:vol1 \\
    --owner stas
  nvmf connect -t tcp -a 192.0.2.10 -n nqn.2014-08.org.example:vol1 \\
    -l -1 -c 5 --wait -o json`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const { runConnect } = await import('../connect.js');
      await runConnect(ctx, opts);
    });
}
