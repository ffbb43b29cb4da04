import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/**
 * `nvmf demo`: the two-minute tour (DESIGN §10). It builds a simulated host in a temporary
 * directory and runs the real `nvmf` commands against it, each shown as a shell line with
 * its output, so what the tour shows is what an operator types. Nothing outside that
 * directory is read or written; it is removed at the end unless --keep is given.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('a two-minute tour on a simulated host in a temporary directory')
    .option('--keep', 'keep the simulated host and print its directory')
    .addHelpText(
      'after',
      `
Three orchestrators and a human connect controllers on a simulated host; the
tour shows who owns what, why disconnect-all keeps or removes each controller,
runs it and shows the audit trail. Nothing on the real host is touched.

Examples:
  nvmf demo
  nvmf demo --keep`,
    )
    .action(async (opts: { keep?: boolean }) => {
      const { runDemo } = await import('../demo.js');
      await runDemo(ctx, { keep: opts.keep === true });
    });
}
