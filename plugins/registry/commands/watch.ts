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
      const { untilSignal, waitForRegistryRoot } = await import('../../../src/cli/plugin-api.js');
      const roots = await ctx.roots();
      const stopped = untilSignal();
      const root = await waitForRegistryRoot(roots.registry, stopped, (m) => ctx.note(m, true));
      if (root === 'stopped') return;
      const watcher = await watchRegistry(roots.registry, {
        // a root that appeared while we waited: every entry in it was created while we ran
        emitInitial: opts.initial === true || root === 'appeared',
        onEvent: (e) => ctx.stdout.write(`${JSON.stringify(e)}\n`),
        onError: (e) => ctx.note(`warning: ${e.message}`, true),
      });
      await stopped;
      await watcher.close();
    });
}
