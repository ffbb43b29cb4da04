import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('update')
    .description("set one attribute of a device's registry entry (owner asks for confirmation)")
    .argument('<device>', 'nvmeN or /dev/nvmeN')
    .requiredOption('-a, --attr <name>', 'attribute name (owner or a private one; seqnum is reserved)')
    .requiredOption('-V, --value <value>', 'new value')
    .option('-y, --yes', 'do not ask before changing the owner')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry update nvme3 -a owner -V stas --yes\n  nvmf registry update nvme3 -a note -V "boot volume"',
    )
    .action(async (device: string, opts: { attr: string; value: string; yes?: boolean }) => {
      const { deviceArg } = await import('../device-arg.js');
      const { openRegistry } = await import('../open.js');
      const { confirmChange } = await import('../confirm.js');
      const { checkOwner, checkValue, checkWritableAttr } = await import('../../../src/index.js');
      const { NvmfError } = await import('../../../src/index.js');
      const dev = deviceArg(device);
      const attr = checkWritableAttr(opts.attr);
      if (attr === 'owner') checkOwner(opts.value);
      else checkValue(attr, opts.value);
      const reg = await openRegistry(ctx, true);
      const entry = reg.read(dev);
      if (entry === null) {
        throw new NvmfError(
          'ENOT_REGISTERED',
          `${dev} has no registry entry; connect it with --owner, or check the name with 'nvmf list'`,
          { device: dev },
        );
      }
      let prevOwner: string | null = entry.owner;
      if (attr === 'owner') {
        const { verdictOwner, verdictText } = await import('../../../src/cli/plugin-api.js');
        const shown = verdictOwner(entry.verdict);
        await confirmChange(
          ctx,
          opts.yes,
          `Set the owner of ${dev} from ${entry.verdict.kind === 'unowned' ? '(none)' : verdictText(entry.verdict)} to ${opts.value}?`,
        );
        // expect the owner the operator was shown, so a concurrent change is a conflict, not lost
        const { isNvmfError } = await import('../../../src/index.js');
        try {
          prevOwner = reg.claim(dev, opts.value, { expect: shown }).prevOwner;
        } catch (e) {
          if (!isNvmfError(e, 'EOWNER_CONFLICT')) throw e;
          throw new NvmfError(
            e.code,
            `${e.message}; to set it anyway use 'nvmf registry claim ${dev} --owner ${JSON.stringify(opts.value)} --force'`,
            e.details,
          );
        }
      } else {
        reg.setAttr(dev, attr, opts.value);
      }
      ctx.result(
        attr === 'owner'
          ? { device: dev, attr, value: opts.value, prevOwner }
          : { device: dev, attr, value: opts.value },
        () =>
          attr === 'owner'
            ? `${dev}: owner ${escapeText(prevOwner ?? '(none)')} -> ${escapeText(opts.value)}\n`
            : `${dev}: ${attr} set\n`,
      );
    });
}
