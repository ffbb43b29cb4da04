import type { NvmfPlugin } from '../../src/cli/plugin-api.js';
import { registerRegistryGroup } from './commands/index.js';
import { addOwnerOptions, resolveOwner } from './owner-options.js';

/**
 * The registry plugin: ownership options on connect-like commands, the `registry` command
 * group, and the registry that guards disconnect-all. Enabled by default; docs/operations.md says how to
 * turn it off (then disconnect-all needs --force, since nobody can tell who owns what).
 */
const plugin: NvmfPlugin = {
  name: 'registry',
  commands: registerRegistryGroup,
  commandNames: ['registry'],
  extendCommand(name, command) {
    if (name === 'connect' || name === 'connect-all' || name === 'discover') addOwnerOptions(command);
  },
  beforeConnect(op) {
    op.owner = resolveOwner(op.cliOptions);
  },
  async disconnectAllRegistry(ctx) {
    const { openRegistry } = await import('./open.js');
    return openRegistry(ctx, true);
  },
};

export default plugin;
