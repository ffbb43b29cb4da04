import type { Command } from 'commander';
import { addConnectOptions, DISCOVERY_OPTIONS } from '../connect-options.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('discover')
    .description('read the discovery log of a discovery service (and its referrals)');
  addConnectOptions(cmd, DISCOVERY_OPTIONS);
  cmd
    .addHelpText(
      'after',
      `
A discovery controller already connected and owned by another orchestrator is
not used. The Source column names the discovery controller each entry came from
(the first one, or a referral).

Examples:
  nvmf discover -t tcp -a 192.0.2.10 -s 8009
  nvmf discover -t tcp -a 192.0.2.10 --owner stas -o json`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const { runDiscover } = await import('../discover.js');
      await runDiscover(ctx, opts);
    });
}
