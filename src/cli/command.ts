import type { Command } from 'commander';
import type { CliContext } from './context.js';

/**
 * A command module: one file under `src/cli/commands/` (or a plugin's `commands/`) that
 * exports `register`. `register` only declares the command (name, arguments, options,
 * help text with examples) and attaches an action; it runs on every invocation, so it must
 * not do I/O or import anything heavy at module top level.
 *
 * Actions:
 * - read global options through `ctx.format()` / `ctx.verbose()`;
 * - throw `NvmfError` on failure (main maps it to the exit code and prints the message);
 *   use code `EUSAGE` for conflicting flags (exit 2), `EABORTED` for a declined prompt
 *   (exit 1), `EPARTIAL` when some controllers failed (exit 3, after printing results);
 * - print results with `ctx.result(json, () => text)`.
 */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

export interface CommandModule {
  register: RegisterCommand;
}

/**
 * A command known by name before its module is loaded: the program imports only the
 * module of the command being run (see `buildProgramFor` in program.ts).
 */
export interface CommandDescriptor {
  readonly name: string;
  load(): Promise<CommandModule>;
}
