import fs from 'node:fs';
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
  /** There is a terminal to ask on (see processIo). */
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

/** The controlling terminal: prompts use it whatever stdin, stdout and stderr are. */
const TERMINAL = '/dev/tty';

/**
 * Prompts go to the controlling terminal (`/dev/tty`), as ssh and sudo ask for passwords:
 * redirecting stderr or piping stdin (`yes | nvmf ...`) neither silences a question nor
 * answers it. Without a controlling terminal (cron, systemd, CI, a detached process) there is
 * no one to ask, and the caller refuses instead.
 */
export function processIo(env: Env): ContextIo {
  let terminal: boolean | undefined;
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    get isTTY() {
      if (terminal === undefined) {
        try {
          fs.closeSync(fs.openSync(TERMINAL, 'r+'));
          terminal = true;
        } catch {
          terminal = false;
        }
      }
      return terminal;
    },
    ask(question) {
      return Promise.resolve(askTerminal(question));
    },
  };
}

/**
 * Write `question` to the terminal and read one line back (without its line end); null on
 * EOF. The read is synchronous on purpose: nothing else runs while the operator decides,
 * the terminal's line discipline does the editing, and no stream is left reading the
 * terminal after the answer (which would hold the process open).
 */
function askTerminal(question: string): string | null {
  const fd = fs.openSync(TERMINAL, 'r+');
  try {
    fs.writeSync(fd, question);
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1024);
    for (let total = 0; total < 64 * 1024;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) {
        fs.writeSync(fd, '\n');
        return chunks.length === 0 ? null : Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (buf[n - 1] === 0x0a) break;
    }
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } finally {
    fs.closeSync(fd);
  }
}
