import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('watch')
    .description('stream registry ownership changes as JSON lines until Ctrl-C')
    .option('--initial', 'first report the entries already present (as created/claimed)')
    .addHelpText(
      'after',
      '\nOne JSON object per line:\n' +
        '  {"type":"created"|"claimed"|"released"|"owner-changed"|"removed",\n' +
        '   "device","owner","prevOwner","time"}\n' +
        '\nExamples:\n  nvmf registry watch\n  nvmf registry watch --initial | jq -c "select(.type == \\"removed\\")"',
    )
    .action(async (opts: { initial?: boolean }) => {
      const { watchRegistry } = await import('../../../src/index.js');
      const { requireRegistryRoot, untilSignal } = await import('../../../src/cli/plugin-api.js');
      const roots = await ctx.roots();
      requireRegistryRoot(roots.registry);
      const stopped = untilSignal();
      const watcher = await watchRegistry(roots.registry, {
        emitInitial: opts.initial === true,
        onEvent: (e) => ctx.stdout.write(`${JSON.stringify(e)}\n`),
        onError: (e) => ctx.note(`warning: ${e.message}`, true),
      });
      await stopped;
      await watcher.close();
    });
}
