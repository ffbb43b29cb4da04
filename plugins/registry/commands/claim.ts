import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText, ownerArg } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('claim')
    .description('set the owner of a registered controller, optionally only if it has an expected owner')
    .argument('<device>', 'nvmeN or /dev/nvmeN')
    .requiredOption('--owner <name>', 'new owner', ownerArg('--owner'))
    .option('--expect <owner>', 'only if the current owner is this one', ownerArg('--expect'))
    .option('--if-unowned', 'only if the controller has no owner')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry claim nvme3 --owner stas --if-unowned\n  nvmf registry claim nvme3 --owner stas --expect nvme-discoverd',
    )
    .action(async (device: string, opts: { owner: string; expect?: string; ifUnowned?: boolean }) => {
      const { NvmfError } = await import('../../../src/index.js');
      if (opts.expect !== undefined && opts.ifUnowned) {
        throw new NvmfError(
          'EUSAGE',
          '--expect and --if-unowned contradict each other; give one of them',
          {},
        );
      }
      const { deviceArg } = await import('../device-arg.js');
      const { openRegistry } = await import('../open.js');
      const { checkOwner } = await import('../../../src/index.js');
      const dev = deviceArg(device);
      const owner = checkOwner(opts.owner);
      if (opts.expect !== undefined) checkOwner(opts.expect);
      const reg = await openRegistry(ctx, true);
      const expect = opts.ifUnowned ? null : opts.expect;
      const { prevOwner } = reg.claim(dev, owner, expect === undefined ? {} : { expect });
      ctx.result(
        { device: dev, owner, prevOwner },
        () => `${dev}: owner ${escapeText(prevOwner ?? '(none)')} -> ${escapeText(owner)}\n`,
      );
    });
}
