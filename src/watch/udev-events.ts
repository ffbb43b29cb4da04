import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { NvmfError } from '../errors.js';
import { type UdevEvent, UdevParser } from './udev-parse.js';

export type { UdevEvent } from './udev-parse.js';

export const UDEVADM_MONITOR_ARGS = ['monitor', '--udev', '--property', '--subsystem-match=nvme'] as const;

export interface UdevMonitorOptions {
  onEvent(event: UdevEvent): void;
  /** udevadm failed to start or exited while we still wanted events. */
  onError?(error: NvmfError): void;
  /** Executable to run (default `udevadm`, looked up on PATH); tests point it at a fake. */
  command?: string;
  args?: readonly string[];
}

export interface UdevMonitor {
  /** Resolves when udevadm has exited (after `stop()` or on its own). */
  readonly done: Promise<void>;
  stop(): void;
}

/** Spawn `udevadm monitor` and turn its property blocks into events. */
export function monitorUdev(opts: UdevMonitorOptions): UdevMonitor {
  const command = opts.command ?? 'udevadm';
  const args = opts.args ?? UDEVADM_MONITOR_ARGS;
  const onError = opts.onError ?? (() => {});
  let stopping = false;
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const parser = new UdevParser();
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (l) => {
    const e = parser.line(l);
    if (e) opts.onEvent(e);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const done = new Promise<void>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      stopping = true; // one report: no "exited" after "cannot run"
      onError(
        new NvmfError(
          'EIO',
          e.code === 'ENOENT'
            ? `cannot run ${command}: not found (udev events need systemd-udev's udevadm on PATH)`
            : `cannot run ${command}: ${e.message}`,
          { command, errno: e.code },
        ),
      );
      resolve();
    });
    child.once('close', (code, signal) => {
      const last = parser.flush();
      if (last) opts.onEvent(last);
      if (!stopping) {
        onError(
          new NvmfError(
            'EIO',
            `${command} monitor exited (${signal ?? `status ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
            { command, code, signal },
          ),
        );
      }
      resolve();
    });
  });
  return {
    done,
    stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
