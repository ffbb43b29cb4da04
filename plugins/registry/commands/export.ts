import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('export')
    .description('export ownership metrics for node_exporter (textfile collector)')
    .option('--format <format>', 'output format (prometheus)', 'prometheus')
    .option('--path <file>', 'write atomically to FILE (temp file + rename) instead of stdout')
    .option(
      '--repeat-on-change',
      'with --path: export again while the registry root changed during the export (at most 10 times)',
    )
    .addHelpText(
      'after',
      "\n--repeat-on-change is for a systemd path unit's service: a path unit does not\n" +
        'watch while its service runs, so a change made during the export would wait\n' +
        'for the next.\n' +
        '\nExamples:\n  nvmf registry export --format prometheus \\\n' +
        '    --path /var/lib/node_exporter/textfile/nvmf.prom\n' +
        '  nvmf registry export',
    )
    .action(async (opts: { format: string; path?: string; repeatOnChange?: boolean }) => {
      const { NvmfError } = await import('../../../src/index.js');
      if (opts.format !== 'prometheus') {
        throw new NvmfError(
          'EUSAGE',
          `--format ${JSON.stringify(opts.format)} is not supported; use prometheus`,
          {
            value: opts.format,
          },
        );
      }
      const { formatPrometheus, writeFileAtomic } = await import('../../../src/cli/plugin-api.js');
      const { openRegistry } = await import('../open.js');
      const { kernel } = await ctx.kernel();
      const registry = await openRegistry(ctx, false);
      const render = async (): Promise<string> => {
        // Controllers first, then entries: an entry written in between is counted, not missed.
        const controllers = await kernel.listControllers();
        const { live, stale } = registry.list({ controllers });
        const entries = [...live, ...stale].map((e) => ({
          device: e.device,
          owner: e.owner,
          unreadable: !!e.error,
        }));
        return formatPrometheus(controllers, entries);
      };
      if (opts.path === undefined) {
        ctx.stdout.write(await render());
        return;
      }
      const file = opts.path;
      if (opts.repeatOnChange === true) {
        const { repeatWhileChanging } = await import('../../../src/cli/plugin-api.js');
        await repeatWhileChanging((await ctx.roots()).registry, async () =>
          writeFileAtomic(file, await render()),
        );
      } else writeFileAtomic(file, await render());
      ctx.result({ path: opts.path, format: 'prometheus' }, () => '');
      ctx.note(`wrote ${opts.path}`);
    });
}
