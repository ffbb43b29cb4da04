import type { Auditor } from '../audit/event.js';
import { NvmfError } from '../errors.js';
import type { Env, Roots } from '../roots.js';
import type { CliContext, KernelHandle, Writer } from './context.js';
import { EXIT, type ExitCode } from './exit.js';
import { type OutputFormat, writeJson } from './output.js';
import type { PluginHost } from './plugin.js';
import { isTypedConfirmation, isYes } from './prompt.js';

/** How the context reaches the outside world; the program passes the real process, tests fakes. */
export interface ContextIo {
  env: Env;
  stdout: Writer;
  stderr: Writer;
  isTTY: boolean;
  /** Ask one line on the terminal; null on EOF. Only called when `isTTY`. */
  ask(question: string): Promise<string | null>;
}

/** Creators of the heavy services, each called at most once (see services.ts). */
export interface ServiceLoaders {
  kernel(env: Env): Promise<KernelHandle>;
  roots(env: Env): Promise<Roots>;
  auditor(): Promise<Auditor>;
}

export interface GlobalOptionsSource {
  opts(): { outputFormat?: OutputFormat; verbose?: number };
}

export function createContext(
  io: ContextIo,
  loaders: ServiceLoaders,
  plugins: PluginHost,
  globals: () => GlobalOptionsSource,
): CliContext {
  const once = <T>(make: () => Promise<T>): (() => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => {
      p ??= make();
      return p;
    };
  };
  let exitCode: ExitCode = EXIT.OK;
  const format = (): OutputFormat => globals().opts().outputFormat ?? 'normal';

  const needTerminal = (hint: string): void => {
    if (!io.isTTY) {
      throw new NvmfError(
        'EABORTED',
        `refusing to ask for confirmation without a terminal; nothing was changed. Re-run with ${hint} to confirm from a script`,
        { hint },
      );
    }
  };

  const ctx: CliContext = {
    env: io.env,
    stdout: io.stdout,
    stderr: io.stderr,
    // a getter: reading stdin's isTTY opens the stdin stream, which most commands never need
    get isTTY() {
      return io.isTTY;
    },
    plugins,
    format,
    verbose: () => globals().opts().verbose ?? 0,
    kernel: once(() => loaders.kernel(io.env)),
    roots: once(() => loaders.roots(io.env)),
    auditor: once(() => loaders.auditor()),
    result(json, normal) {
      if (format() === 'json') writeJson(io.stdout, json);
      else io.stdout.write(normal());
    },
    note(text, always = false) {
      if (always || format() !== 'json') io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    async confirmTyped(question, hint, word = 'yes') {
      needTerminal(hint);
      return isTypedConfirmation(await io.ask(`${question} Type '${word}' to continue: `), word);
    },
    async confirmYesNo(question, hint) {
      needTerminal(hint);
      return isYes(await io.ask(`${question} [y/N] `));
    },
    setExitCode(code) {
      exitCode = code;
    },
    exitCode: () => exitCode,
  };
  return ctx;
}

/** Prompt through the process's stdin/stderr (stderr keeps stdout clean for `-o json`). */
export function processIo(env: Env): ContextIo {
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    get isTTY() {
      return process.stdin.isTTY === true && process.stderr.isTTY === true;
    },
    async ask(question) {
      // readline only loads when a prompt is shown
      const { readLine } = await import('./prompt-line.js');
      const answer = await readLine(process.stdin, process.stderr, question);
      process.stdin.pause();
      return answer;
    },
  };
}
