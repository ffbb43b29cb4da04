import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('monitor')
    .description(
      'one timeline of udev nvme events (udevadm monitor) and registry ownership changes, until Ctrl-C',
    )
    .option('--no-udev', 'registry changes only (no udevadm)')
    .addHelpText(
      'after',
      '\nLines are text, or JSON lines with -o json ({"source":"udev"|"registry",...}).\n' +
        '\nExamples:\n  nvmf monitor\n  nvmf monitor -o json | jq -c "select(.device == \\"nvme4\\")"',
    )
    .action(async (opts: { udev: boolean }) => {
      const { watchRegistry } = await import('../../watch/registry-watch.js');
      const { monitorUdev } = await import('../../watch/udev-events.js');
      const t = await import('../../watch/timeline.js');
      const roots = await ctx.roots();
      t.requireRegistryRoot(roots.registry);
      const json = ctx.format() === 'json';
      const emit = (item: import('../../watch/timeline.js').TimelineItem): void => {
        ctx.stdout.write(json ? `${JSON.stringify(item)}\n` : `${t.formatTimelineText(item)}\n`);
      };
      const stopped = t.untilSignal();
      const watcher = await watchRegistry(roots.registry, {
        onEvent: (e) => emit(t.registryItem(e)),
        onError: (e) => ctx.note(`warning: ${e.message}`, true),
      });
      const udev = opts.udev
        ? monitorUdev({
            onEvent: (e) => emit(t.udevItem(e, new Date().toISOString())),
            // without udevadm the registry half still works; say what is missing
            onError: (e) => ctx.note(`warning: ${e.message}; showing registry changes only`, true),
          })
        : null;
      ctx.note(`monitoring ${roots.registry}${udev ? ' and udev nvme events' : ''}; Ctrl-C to stop`);
      await stopped;
      udev?.stop();
      await Promise.all([watcher.close(), udev?.done]);
    });
}
