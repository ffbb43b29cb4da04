import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import { escapeText, ownerArg } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('claim')
    .description(
      'set the owner of a live controller (creating its entry if it has none), optionally only if it has an expected owner',
    )
    .argument('<device>', 'nvmeN or /dev/nvmeN')
    .requiredOption('--owner <name>', 'new owner', ownerArg('--owner'))
    .option('--expect <owner>', 'only if the current owner is this one', ownerArg('--expect'))
    .option('--if-unowned', 'only if the controller has no owner')
    .option('--force', 'claim even if --expect or --if-unowned does not hold, or the owner is unknown')
    .addHelpText(
      'after',
      '\nA controller connected without the registry gets an entry (stamped with the\n' +
        'current uevent seqnum, its identity recorded); a controller that does not\n' +
        'exist is refused.\n' +
        '\nExamples:\n  nvmf registry claim nvme3 --owner stas --if-unowned\n  nvmf registry claim nvme3 --owner stas --expect nvme-discoverd\n  nvmf registry claim nvme3 --owner stas --force',
    )
    .action(
      async (
        device: string,
        opts: { owner: string; expect?: string; ifUnowned?: boolean; force?: boolean },
      ) => {
        const { NvmfError, isNvmfError, checkOwner } = await import('../../../src/index.js');
        if (opts.expect !== undefined && opts.ifUnowned) {
          throw new NvmfError(
            'EUSAGE',
            '--expect and --if-unowned contradict each other; give one of them',
            {},
          );
        }
        const { deviceArg } = await import('../device-arg.js');
        const { openRegistry } = await import('../open.js');
        const dev = deviceArg(device);
        const owner = checkOwner(opts.owner);
        if (opts.expect !== undefined) checkOwner(opts.expect);
        const reg = await openRegistry(ctx, true);
        const { kernel } = await ctx.kernel();
        const expect = opts.ifUnowned ? null : opts.expect;
        const force = opts.force === true;
        let out: { prevOwner: string | null; created: boolean };
        try {
          // The stamp of an entry created now: read before the claim, so any remove event of
          // this controller comes after it.
          out = reg.claim(dev, owner, {
            ...(expect === undefined ? {} : { expect }),
            ...(force ? { force } : {}),
            seqnum: kernel.ueventSeqnum(),
          });
        } catch (e) {
          if (isNvmfError(e, 'EOWNER_CONFLICT'))
            throw new NvmfError(e.code, `${e.message}; use --force to claim it anyway`, e.details);
          if (
            isNvmfError(e) &&
            (e.code === 'ESYMLINK' || e.code === 'ENOT_FILE' || e.code === 'EINVALID_OWNER')
          )
            throw new NvmfError(
              e.code,
              `${e.message}; the owner is unknown: use --force to replace the entry`,
              e.details,
            );
          throw e;
        }
        const { prevOwner, created } = out;
        ctx.result({ device: dev, owner, prevOwner, ...(created ? { created } : {}) }, () =>
          created
            ? `${dev}: entry created, owner ${escapeText(owner)}\n`
            : `${dev}: owner ${prevOwner === null ? '(none)' : prevOwner === '' ? '""' : escapeText(prevOwner)} -> ${escapeText(owner)}\n`,
        );
      },
    );
}
