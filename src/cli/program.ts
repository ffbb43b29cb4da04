import { Command, CommanderError, Option } from 'commander';
import type { CommandModule } from './command.js';
import type { CliContext } from './context.js';
import { OUTPUT_FORMATS } from './output.js';
import type { CoreCommandName } from './plugin.js';

const CORE_COMMANDS: readonly CoreCommandName[] = [
  'connect',
  'connect-all',
  'discover',
  'disconnect',
  'disconnect-all',
  'list',
];

const EXAMPLES = `
Examples:
  nvmf connect -t tcp -a 192.0.2.10 -s 4420 -n nqn.2014-08.org.example:vol1 --owner stas
  nvmf list -v
  nvmf disconnect-all --dry-run
  nvmf registry list -o json

Exit status: 0 ok, 1 error or aborted, 2 usage error, 3 partial failure.
Configuration: NVMF_CONFIG (default /etc/nvme/nvmf.json), NVMF_PLUGINS, NVMF_KERNEL; see nvmf(1).`;

/**
 * The commander program with global options, every command module and the enabled
 * plugins' commands and options. `exitOverride` turns commander's exits into exceptions so
 * main owns the exit code (usage errors are 2, not commander's 1).
 */
export function buildProgram(ctx: CliContext, modules: readonly CommandModule[], version: string): Command {
  const program = new Command('nvmf');
  program
    .description('NVMe over Fabrics host tool with an ownership registry and a safe disconnect-all')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)')
    .version(version, '--version', 'print the version and exit')
    .addOption(
      new Option('-o, --output-format <format>', 'output format')
        .choices([...OUTPUT_FORMATS])
        .default('normal'),
    )
    .option(
      '-v, --verbose',
      'more detail (list: Orchestrator column; registry list: seqnum)',
      (_v, prev: number) => prev + 1,
      0,
    )
    .addHelpText('after', EXAMPLES)
    .helpCommand(false);

  for (const m of modules) m.register(program, ctx);
  for (const name of CORE_COMMANDS) {
    const cmd = program.commands.find((c) => c.name() === name);
    if (cmd === undefined) continue;
    for (const p of ctx.plugins.enabled) p.extendCommand?.(name, cmd, ctx);
  }
  for (const p of ctx.plugins.enabled) p.commands?.(program, ctx);
  return program;
}

/** Commander's own "exits" that are not errors. */
export function isCommanderSuccess(e: unknown): boolean {
  return (
    e instanceof CommanderError &&
    (e.code === 'commander.helpDisplayed' ||
      e.code === 'commander.version' ||
      e.code === 'commander.help' ||
      e.exitCode === 0)
  );
}
