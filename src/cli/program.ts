import { Command, CommanderError, Option } from 'commander';
import type { CommandDescriptor, CommandModule } from './command.js';
import type { CliContext } from './context.js';
import { DISCONNECT_ALL_TABLE } from './help-text.js';
import { NvmfError } from '../errors.js';
import { escapeText, OUTPUT_FORMATS, setWideOutput } from './output.js';
import type { CoreCommandName, NvmfPlugin } from './plugin.js';

const CORE_COMMANDS: readonly CoreCommandName[] = [
  'connect',
  'connect-all',
  'discover',
  'disconnect',
  'disconnect-all',
  'list',
];

const EXAMPLES = `
${DISCONNECT_ALL_TABLE}

Examples:
  nvmf connect -t tcp -a 192.0.2.10 -n nqn.2014-08.org.example:vol1 --owner stas
  nvmf list -v
  nvmf disconnect-all --dry-run
  nvmf registry list -o json
  nvmf help registry list

Exit status: 0 ok, 1 error or aborted, 2 usage error, 3 partial failure.
Configuration: NVMF_CONFIG (default /etc/nvme/nvmf.json), NVMF_PLUGINS,
NVMF_KERNEL; see nvmf(1).`;

/** `-o` and `-v`: the program's own options, accepted anywhere on the line. */
function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-o, --output-format <format>', 'output format')
        .choices([...OUTPUT_FORMATS])
        .default('normal'),
    )
    .option(
      '-v, --verbose',
      'more detail (list: Orchestrator column; registry list: seqnum); twice (-vv): table cells whole, even past 80 columns',
      (_v, prev: number) => prev + 1,
      0,
    );
}

/**
 * The top-level command `args` (user arguments, without node and script) would run, found
 * by commander's own option parsing on a scratch program with the same global options, so
 * `-o json registry list` and `registry -v list` resolve as the real parse will. Undefined
 * when there is none or the line is already malformed at the top level.
 */
export function selectedCommand(args: readonly string[]): string | undefined {
  // A first argument that is not an option is the operand commander dispatches on: no
  // scratch program needed (the usual `nvmf registry list` line; its construction was
  // measurable in start-up profiles).
  const first = args[0];
  if (first !== undefined && !first.startsWith('-')) return first;
  const scratch = addGlobalOptions(new Command('nvmf'))
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    return scratch.parseOptions([...args]).operands[0];
  } catch {
    // a bad global option: the real program reports it
    return undefined;
  }
}

function newProgram(ctx: CliContext, version: string): Command {
  return addGlobalOptions(
    new Command('nvmf')
      .description('NVMe over Fabrics host tool with an ownership registry and a safe disconnect-all')
      .exitOverride()
      .configureOutput({
        writeOut: (s) => ctx.stdout.write(s),
        writeErr: (s) => ctx.stderr.write(s),
      })
      .showHelpAfterError('(run with --help for usage)')
      .version(version, '--version', 'print the version and exit'),
  )
    .addHelpText('after', EXAMPLES)
    .helpCommand(false)
    .hook('preAction', () => setWideOutput(ctx.verbose() > 1));
}

/**
 * `nvmf __complete -- WORDS...` (hidden): the completion candidates for the last word, one a
 * line (completion.ts; the bash script calls it).
 */
function addCompleteCommand(program: Command, ctx: CliContext): void {
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .action(async (words: string[]) => {
      const { completions, deviceNames } = await import('./completion.js');
      const devices = async (): Promise<string[]> => {
        try {
          return deviceNames(await ctx.roots());
        } catch {
          return []; // a broken configuration completes no devices; it does not break the shell
        }
      };
      const names = await devices();
      for (const w of completions(program, words, () => names)) ctx.stdout.write(`${w}\n`);
    });
}

/**
 * `nvmf help [COMMAND [SUBCOMMAND...]]`: the same help `--help` prints, found by walking the
 * program's commands, so it knows every command a module or plugin registered.
 */
function addHelpCommand(program: Command): void {
  program
    .command('help')
    .argument('[command...]', 'a command and its subcommands')
    .description('show the help of a command (nvmf help registry list)')
    .action((names: string[]) => {
      let cmd = program;
      for (const name of names) {
        const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (sub === undefined) {
          const known = cmd.commands.map((c) => c.name()).join(', ');
          throw new NvmfError(
            'EUSAGE',
            `no command "${escapeText(name)}" under "${cmd.name()}"; commands: ${known}`,
            {},
          );
        }
        cmd = sub;
      }
      cmd.outputHelp();
    });
}

function register(
  program: Command,
  ctx: CliContext,
  modules: readonly CommandModule[],
  plugins: readonly NvmfPlugin[],
): Command {
  for (const m of modules) m.register(program, ctx);
  for (const name of CORE_COMMANDS) {
    const cmd = program.commands.find((c) => c.name() === name);
    if (cmd === undefined) continue;
    for (const p of ctx.plugins.enabled) p.extendCommand?.(name, cmd, ctx);
  }
  for (const p of plugins) p.commands?.(program, ctx);
  addHelpCommand(program);
  addCompleteCommand(program, ctx);
  return program;
}

/**
 * The commander program with global options, every command module and the enabled
 * plugins' commands and options. `exitOverride` turns commander's exits into exceptions so
 * main owns the exit code (usage errors are 2, not commander's 1).
 */
export function buildProgram(ctx: CliContext, modules: readonly CommandModule[], version: string): Command {
  return register(newProgram(ctx, version), ctx, modules, ctx.plugins.enabled);
}

/**
 * The program for one invocation: when `args` name a known command, only that command's
 * module (or its plugin's commands) is loaded and registered; commander then parses the
 * line exactly as with everything registered, since it dispatches to that command alone.
 * Anything else (no command, a typo, help, a bad global option) registers every command,
 * so help lists them all and errors read as they always do.
 */
export async function buildProgramFor(
  ctx: CliContext,
  args: readonly string[],
  core: readonly CommandDescriptor[],
  version: string,
): Promise<Command> {
  const plugins = ctx.plugins.enabled;
  const name = selectedCommand(args);
  const coreHit = core.find((d) => d.name === name);
  const pluginHit = name !== undefined && plugins.some((p) => p.commandNames?.includes(name) === true);
  if (coreHit === undefined && !pluginHit) {
    const modules = await Promise.all(core.map((d) => d.load()));
    return buildProgram(ctx, modules, version);
  }
  const modules = coreHit === undefined ? [] : [await coreHit.load()];
  // a plugin that does not declare its names might own the command: always register it
  const needed = plugins.filter(
    (p) => p.commandNames === undefined || (name !== undefined && p.commandNames.includes(name)),
  );
  return register(newProgram(ctx, version), ctx, modules, needed);
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
