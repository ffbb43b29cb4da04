import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('export')
    .description('export ownership metrics for node_exporter (textfile collector)')
    .option('--format <format>', 'output format (prometheus)', 'prometheus')
    .option('--path <file>', 'write atomically to FILE (temp file + rename) instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf registry export --format prometheus \\\n' +
        '    --path /var/lib/node_exporter/textfile/nvmf.prom\n' +
        '  nvmf registry export',
    )
    .action(async (opts: { format: string; path?: string }) => {
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
      // Controllers first, then entries: an entry written in between is counted, not missed.
      const controllers = await kernel.listControllers();
      const { live, stale } = (await openRegistry(ctx, false)).list();
      const entries = [...live, ...stale].map((e) => ({
        device: e.device,
        owner: e.owner,
        unreadable: !!e.error,
      }));
      const text = formatPrometheus(controllers, entries);
      if (opts.path === undefined) {
        ctx.stdout.write(text);
        return;
      }
      writeFileAtomic(opts.path, text);
      ctx.result({ path: opts.path, format: 'prometheus' }, () => '');
      ctx.note(`wrote ${opts.path}`);
    });
}
