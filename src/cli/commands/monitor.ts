import type { Command } from 'commander';
import type { UdevEvent } from '../../watch/udev-parse.js';
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
      const t = await import('../../watch/timeline.js');
      const roots = await ctx.roots();
      const json = ctx.format() === 'json';
      const emit = (item: import('../../watch/timeline.js').TimelineItem): void => {
        ctx.stdout.write(json ? `${JSON.stringify(item)}\n` : `${t.formatTimelineText(item)}\n`);
      };
      const stopped = t.untilSignal();
      const root = await t.waitForRegistryRoot(roots.registry, stopped, (m) => ctx.note(m, true));
      if (root === 'stopped') return;
      const watcher = await watchRegistry(roots.registry, {
        // a root that appeared while we waited: what is in it already happened while we ran
        emitInitial: root === 'appeared',
        onEvent: (e) => emit(t.registryItem(e)),
        onError: (e) => ctx.note(`warning: ${e.message}`, true),
      });
      const udev = opts.udev
        ? await udevSource(ctx, (e) => emit(t.udevItem(e, new Date().toISOString())))
        : null;
      // on stderr with -o json too: the readiness line a script (or test) waits for
      ctx.note(`monitoring ${roots.registry}${udev ? ' and udev nvme events' : ''}; Ctrl-C to stop`, true);
      await stopped;
      udev?.stop();
      await Promise.all([watcher.close(), udev?.done]);
    });
}

/**
 * The udev half of the timeline: `udevadm monitor` on a real host; on a simulated one
 * (NVMF_KERNEL=sim:DIR) the events its udevd processes, from its log.
 */
async function udevSource(
  ctx: CliContext,
  onEvent: (e: UdevEvent) => void,
): Promise<{ stop(): void; done?: Promise<void> }> {
  const spec = ctx.env['NVMF_KERNEL'] ?? '';
  if (spec.startsWith('sim:')) {
    const { followSimUdev } = await import('../../kernel/sim/udev-follow.js');
    return followSimUdev(spec.slice(4), (r) =>
      onEvent({
        source: 'UDEV',
        monotonic: null,
        action: r.action,
        devpath: `/devices/virtual/nvme-fabrics/ctl/${r.kernel}`,
        subsystem: r.subsystem,
        device: r.kernel,
        devname: `/dev/${r.kernel}`,
        seqnum: r.seqnum,
        properties: {},
      }),
    );
  }
  const { monitorUdev } = await import('../../watch/udev-events.js');
  return monitorUdev({
    onEvent,
    // without udevadm the registry half still works; say what is missing
    onError: (e) => ctx.note(`warning: ${e.message}; showing registry changes only`, true),
  });
}
