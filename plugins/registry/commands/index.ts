import type { Command } from 'commander';
import type { CommandModule } from '../../../src/cli/plugin-api.js';
import type { CliContext } from '../../../src/cli/plugin-api.js';
import * as claim from './claim.js';
import * as del from './delete.js';
import * as exp from './export.js';
import * as gc from './gc.js';
import * as list from './list.js';
import * as log from './log.js';
import * as retrieve from './retrieve.js';
import * as update from './update.js';
import * as watch from './watch.js';

/** Subcommands of `nvmf registry`, in help order. watch, log and export join when they land. */
const SUBCOMMANDS: readonly CommandModule[] = [list, retrieve, update, del, claim, gc, watch, log, exp];

export function registerRegistryGroup(program: Command, ctx: CliContext): void {
  const group = program
    .command('registry')
    .description('inspect and change the ownership registry (/run/nvme/registry)')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry list -v\n  nvmf registry claim nvme3 --owner stas --if-unowned',
    );
  for (const m of SUBCOMMANDS) m.register(group, ctx);
}
