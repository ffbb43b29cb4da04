import type { Command } from 'commander';
import { Option } from 'commander';
import { ownerArg } from '../../src/cli/plugin-api.js';
import { NvmfError } from '../../src/index.js';
import { checkOwner } from '../../src/index.js';

/** The owner a connect-like command records, from `--owner` and `--nbft`. */
export function resolveOwner(opts: { owner?: unknown; nbft?: unknown }): string | null | undefined {
  const owner = opts.owner;
  if (owner === undefined) return opts.nbft === true ? 'nbft' : undefined;
  if (typeof owner !== 'string') {
    throw new NvmfError('EUSAGE', `--owner needs a value: --owner NAME to claim, --owner= to disown`, {});
  }
  // `--owner=` (empty) is the documented way to disown a reused controller.
  if (owner === '') return null;
  return checkOwner(owner);
}

export function addOwnerOptions(cmd: Command): void {
  cmd.addOption(
    new Option(
      '--owner <name>',
      'record NAME as the orchestrator owning the controller(s); --owner= disowns on reuse',
    ).argParser(ownerArg('--owner', { allowEmpty: true })),
  );
  // connect-all has its own --nbft (connect what the table describes), which implies the owner too
  if (!cmd.options.some((o) => o.long === '--nbft'))
    cmd.addOption(
      new Option(
        '--nbft',
        'the controller(s) belong to the boot firmware table: owner "nbft" unless --owner',
      ),
    );
}
