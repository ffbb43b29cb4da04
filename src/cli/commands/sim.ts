import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `nvmf sim ...`: the simulated kernel of DESIGN §10, for tests and demos. */
export function register(program: Command, ctx: CliContext): void {
  const sim = program
    .command('sim')
    .description('create and drive a simulated NVMe host (NVMF_KERNEL=sim:DIR)');
  sim
    .command('init')
    .description('create a simulated host in DIR (or update its targets)')
    .argument('<dir>', 'directory holding the whole simulated state')
    .option('--targets <file>', 'JSON file describing subsystems and discovery controllers to serve')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf sim init /tmp/host --targets targets.json\n  NVMF_KERNEL=sim:/tmp/host nvmf list',
    )
    .action(async (dir: string, opts: { targets?: string }) => {
      const { simInit } = await import('../../kernel/sim.js');
      await simInit(dir, opts.targets !== undefined ? { targets: opts.targets } : {});
      ctx.result({ dir }, () => `simulated host ready in ${dir}; use NVMF_KERNEL=sim:${dir}\n`);
    });
  sim
    .command('udev-settle')
    .description("run the simulated host's queued udev events (the real rule file's commands)")
    .argument('<dir>', 'directory of the simulated host')
    .option('--now', "ignore the events' configured delay")
    .action(async (dir: string, opts: { now?: boolean }) => {
      const { simUdevSettle } = await import('../../kernel/sim.js');
      const processed = await simUdevSettle(dir, { now: opts.now === true });
      ctx.result({ processed }, () => `${processed} udev event${processed === 1 ? '' : 's'} processed\n`);
    });
}
