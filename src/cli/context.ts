import type { Auditor } from '../audit/event.js';
import type { Kernel } from '../kernel/port.js';
import type { Env, Roots } from '../roots.js';
import type { ExitCode } from './exit.js';
import type { OutputFormat } from './output.js';
import type { PluginHost } from './plugin.js';

/** Where text goes. `process.stdout`/`process.stderr` in the program, buffers in tests. */
export interface Writer {
  write(text: string): void;
}

/** The kernel adapter the CLI runs against (`NVMF_KERNEL`), with the roots it uses. */
export interface KernelHandle {
  kernel: Kernel;
  roots: Roots;
}

/**
 * What every command module gets. One per process, created before parsing. Global options
 * (`-o`, `-v`) are only known once commander has parsed them, so `format` and `verbose`
 * are read at action time, not at `register` time.
 *
 * Heavy things (kernel adapter, registry, engine, auditor) are created on first use with
 * dynamic imports: a command that does not call `kernel()` never loads koffi, and a
 * command that does not call `auditor()` never loads the audit sinks. Command modules keep
 * their top-level imports to types and `commander`, and import their implementation inside
 * the action for the same reason.
 */
export interface CliContext {
  readonly env: Env;
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** There is a controlling terminal (`/dev/tty`): the only case in which we may ask a question. */
  readonly isTTY: boolean;

  /** `-o/--output-format`, `normal` unless given. */
  format(): OutputFormat;
  /** Number of `-v` given. */
  verbose(): number;

  /** Registry, sysfs and dev roots from `NVMF_*_ROOT` (or the sim kernel's, with `NVMF_KERNEL=sim:DIR`). */
  roots(): Promise<Roots>;
  kernel(): Promise<KernelHandle>;
  auditor(): Promise<Auditor>;

  /** Enabled plugins and their hooks (see plugin.ts). */
  readonly plugins: PluginHost;

  /**
   * Print a command's result: `json` as one JSON document with `-o json`, else the text
   * `normal()` renders. Results go to stdout, messages to stderr, prompts to the terminal.
   */
  result(json: unknown, normal: () => string): void;
  /** A human message on stderr (suppressed with `-o json` unless `always`). */
  note(text: string, always?: boolean): void;

  /**
   * Ask for a typed word (default `yes`) on the terminal. Resolves true only on the exact
   * word, nothing around it; anything else (including EOF) is false. With no terminal it throws `EABORTED`
   * naming `hint` (e.g. `--yes`) at once, so a script never hangs on a question.
   */
  confirmTyped(question: string, hint: string, word?: string): Promise<boolean>;
  /** `[y/N]` on the terminal: true on `y`/`yes` (any case). Same no-terminal rule. */
  confirmYesNo(question: string, hint: string): Promise<boolean>;

  /** Exit code the process ends with when the action returns normally (default 0). */
  setExitCode(code: ExitCode): void;
  exitCode(): ExitCode;
}
