#!/usr/bin/env node
import { isatty } from 'node:tty';
import { CommanderError } from 'commander';
import { isNvmfError } from '../errors.js';
import { endQuietlyOnClosedPipe } from './closed-pipe.js';
import { coreCommands } from './commands/index.js';
import type { CliContext, Writer } from './context.js';
import { type ContextIo, createContext, processIo } from './create-context.js';
import { EXIT, exitCodeFor } from './exit.js';
import { fdWriter } from './fd-writer.js';
import { foldingWriter } from './output.js';
import { SHIPPED_PLUGINS } from '../../plugins/index.js';
import { loadPluginHost } from './plugin-host.js';
import { buildProgramFor, isCommanderSuccess } from './program.js';
import { packageVersion, serviceLoaders } from './services.js';

/** package.json's version, set by the bundle build (scripts/bundle-cli.mjs); absent in tsc's output. */
declare const __NVMF_VERSION__: string | undefined;
const version = (): string => (typeof __NVMF_VERSION__ === 'string' ? __NVMF_VERSION__ : packageVersion());

/**
 * The process's io with stdout and stderr written straight to their descriptors (see
 * fd-writer.ts); stdin, the terminal test and prompts are processIo's, built only when asked.
 */
function cliIo(env: NodeJS.ProcessEnv, stdout: Writer, stderr: Writer): ContextIo {
  return {
    env,
    stdout,
    stderr,
    get isTTY() {
      return processIo(env).isTTY;
    },
    ask: (question) => processIo(env).ask(question),
  };
}

/** Print a failure the way the output format asks; secrets never reach NvmfError messages. */
function reportError(ctx: CliContext | undefined, e: unknown, err: Writer): void {
  const json = ctx?.format() === 'json';
  if (isNvmfError(e)) {
    if (json) err.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
    else err.write(`nvmf: ${e.message}\n`);
    return;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (json) err.write(`${JSON.stringify({ error: { code: 'EINTERNAL', message: msg } })}\n`);
  else err.write(`nvmf: internal error: ${msg}\n`);
  if (process.env['NVMF_DEBUG'] && e instanceof Error) err.write(`${e.stack}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const stdout = fdWriter(1);
  const rawStderr = fdWriter(2);
  endQuietlyOnClosedPipe(stdout, rawStderr, (code) => process.exit(code));
  // Messages on an operator's terminal fit 80 columns; piped or captured, lines stay whole.
  const stderr = isatty(2) ? foldingWriter(rawStderr) : rawStderr;
  const env = process.env;
  let ctx: CliContext | undefined;
  try {
    const plugins = await loadPluginHost(env, SHIPPED_PLUGINS);
    let program: Awaited<ReturnType<typeof buildProgramFor>> | undefined;
    ctx = createContext(cliIo(env, stdout, stderr), serviceLoaders, plugins, () => program!);
    program = await buildProgramFor(ctx, argv.slice(2), coreCommands, version());
    await program.parseAsync(argv as string[], { from: 'node' });
    return ctx.exitCode();
  } catch (e) {
    if (isCommanderSuccess(e)) return EXIT.OK;
    // commander has already printed "error: ..." and the help hint
    if (e instanceof CommanderError) return EXIT.USAGE;
    reportError(ctx, e, stderr);
    return exitCodeFor(e);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`nvmf: internal error: ${String(e)}\n`);
    process.exitCode = EXIT.ERROR;
  },
);
