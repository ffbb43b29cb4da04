import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('delete')
    .description('delete a registry entry, or one attribute of it (entry and owner ask for confirmation)')
    .argument('<device>', 'nvmeN or /dev/nvmeN')
    .option('-a, --attr <name>', 'delete only this attribute (owner = disown)')
    .option('-y, --yes', 'do not ask')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry delete nvme3 --yes\n  nvmf registry delete nvme3 -a owner\n  nvmf registry delete nvme3 -a note',
    )
    .action(async (device: string, opts: { attr?: string; yes?: boolean }) => {
      const { deviceArg } = await import('../device-arg.js');
      const { openRegistry } = await import('../open.js');
      const { confirmChange } = await import('../confirm.js');
      const { checkWritableAttr } = await import('../../../src/index.js');
      const { NvmfError } = await import('../../../src/index.js');
      const dev = deviceArg(device);
      const attr = opts.attr === undefined ? undefined : checkWritableAttr(opts.attr);
      const reg = await openRegistry(ctx, true);
      const entry = reg.read(dev);
      if (entry === null) {
        throw new NvmfError(
          'ENOT_REGISTERED',
          `${dev} has no registry entry; see 'nvmf registry list --all'`,
          { device: dev },
        );
      }
      if (attr === undefined) {
        await confirmChange(
          ctx,
          opts.yes,
          `Delete the registry entry of ${dev} (owner ${entry.owner ?? '(none)'})? Its controller will look unowned.`,
        );
        const existed = reg.delete(dev);
        ctx.result({ device: dev, deleted: existed }, () => `${dev}: entry deleted\n`);
        return;
      }
      if (attr === 'owner') {
        await confirmChange(
          ctx,
          opts.yes,
          `Remove owner ${entry.owner ?? '(none)'} of ${dev}? Its controller will look unowned.`,
        );
        const { prevOwner } = reg.disown(dev, { expect: entry.owner });
        ctx.result(
          { device: dev, attr, deleted: prevOwner !== null, prevOwner },
          () => `${dev}: owner ${escapeText(prevOwner ?? '(none)')} removed\n`,
        );
        return;
      }
      const existed = reg.unsetAttr(dev, attr);
      if (!existed) {
        throw new NvmfError(
          'ENOT_REGISTERED',
          `${dev} has no attribute "${attr}"; see 'nvmf registry list'`,
          { device: dev, attr },
        );
      }
      ctx.result({ device: dev, attr, deleted: true }, () => `${dev}: ${attr} deleted\n`);
    });
}
