import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('retrieve')
    .description("print one attribute of a device's registry entry")
    .argument('<device>', 'nvmeN or /dev/nvmeN')
    .requiredOption('-a, --attr <name>', 'attribute name (owner, seqnum, or a private one)')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry retrieve nvme3 -a owner\n  nvmf registry retrieve /dev/nvme3 -a seqnum -o json',
    )
    .action(async (device: string, opts: { attr: string }) => {
      const { deviceArg } = await import('../device-arg.js');
      const { openRegistry } = await import('../open.js');
      const { NvmfError } = await import('../../../src/index.js');
      const dev = deviceArg(device);
      const reg = await openRegistry(ctx, false);
      if (reg.read(dev) === null) {
        throw new NvmfError(
          'ENOT_REGISTERED',
          `${dev} has no registry entry; see 'nvmf registry list --all'`,
          { device: dev },
        );
      }
      const value = reg.readAttr(dev, opts.attr);
      if (value === null) {
        throw new NvmfError(
          'ENOT_REGISTERED',
          `${dev} has no attribute "${opts.attr}"; see 'nvmf registry list -v'`,
          {
            device: dev,
            attr: opts.attr,
          },
        );
      }
      ctx.result({ device: dev, attr: opts.attr, value }, () => `${escapeText(value)}\n`);
    });
}
