#!/usr/bin/env node
import { CommanderError } from 'commander';
import { isNvmfError } from '../errors.js';
import { endQuietlyOnClosedPipe } from './closed-pipe.js';
import { coreCommands } from './commands/index.js';
import type { CliContext } from './context.js';
import { createContext, processIo } from './create-context.js';
import { EXIT, exitCodeFor } from './exit.js';
import { loadPluginHost } from './plugin-host.js';
import { buildProgramFor, isCommanderSuccess } from './program.js';
import { packageVersion, serviceLoaders } from './services.js';

/** package.json's version, set by the bundle build (scripts/bundle-cli.mjs); absent in tsc's output. */
declare const __NVMF_VERSION__: string | undefined;
const version = (): string => (typeof __NVMF_VERSION__ === 'string' ? __NVMF_VERSION__ : packageVersion());

/** Print a failure the way the output format asks; secrets never reach NvmfError messages. */
function reportError(ctx: CliContext | undefined, e: unknown): void {
  const json = ctx?.format() === 'json';
  const err = process.stderr;
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
  endQuietlyOnClosedPipe(process.stdout, process.stderr, (code) => process.exit(code));
  const env = process.env;
  let ctx: CliContext | undefined;
  try {
    const plugins = await loadPluginHost(env);
    let program: Awaited<ReturnType<typeof buildProgramFor>> | undefined;
    ctx = createContext(processIo(env), serviceLoaders, plugins, () => program!);
    program = await buildProgramFor(ctx, argv.slice(2), coreCommands, version());
    await program.parseAsync(argv as string[], { from: 'node' });
    return ctx.exitCode();
  } catch (e) {
    if (isCommanderSuccess(e)) return EXIT.OK;
    // commander has already printed "error: ..." and the help hint
    if (e instanceof CommanderError) return EXIT.USAGE;
    reportError(ctx, e);
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
