import type * as ChildProcess from 'node:child_process';
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { JournalFields } from './fields.js';
import { encodeNative } from './journal-native.js';
import { sendDatagram } from './unix-dgram.js';

/**
 * node:child_process (which loads net, dgram and the stream stack) only for the logger
 * fallback: every registry user loads this module with the auditor, few ever spawn logger.
 */
let loadedChildProcess: typeof ChildProcess | null = null;
function childProcess(): typeof ChildProcess {
  // as in registry/lock.ts: a CommonJS bundle has require but no import.meta.url
  loadedChildProcess ??= (
    typeof require === 'function'
      ? require('node:child_process')
      : createRequire(import.meta.url)('node:child_process')
  ) as typeof ChildProcess;
  return loadedChildProcess;
}

/** systemd's journald socket for the native protocol. */
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/**
 * One place records can go. `write` is synchronous and throws when the record did not get
 * there; the chain then tries the next sink.
 */
export interface AuditSink {
  readonly name: string;
  write(fields: JournalFields, line: string): void;
}

/** journald over its native datagram protocol: every field stays searchable. */
export function journalNativeSink(socketPath: string = JOURNAL_SOCKET): AuditSink {
  return {
    name: 'journald',
    write(fields) {
      sendDatagram(socketPath, encodeNative(fields));
    },
  };
}

/**
 * `logger --journald`: fields as `NAME=value` lines on stdin. It can only reach the default
 * socket, and it exits 0 even when no journald listens, so it is a fallback for when the
 * native sink cannot load (no koffi build), not a way to detect a journal.
 * Newlines in values are sent as `\n` (the line format cannot carry them).
 */
export function loggerSink(command = 'logger', timeoutMs = 5000): AuditSink {
  return {
    name: 'logger',
    write(fields) {
      let input = '';
      for (const [k, v] of Object.entries(fields)) input += `${k}=${v.replace(/\n/g, '\\n')}\n`;
      const r = childProcess().spawnSync(command, ['--journald'], {
        input,
        timeout: timeoutMs,
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      if (r.error) throw r.error;
      if (r.status !== 0) {
        throw new Error(
          `${command} --journald exited ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`,
        );
      }
    },
  };
}

/**
 * JSON lines on a file descriptor (stderr by default), written synchronously: a process
 * that exits right after recording (the CLI) must not lose the record in a buffer.
 */
export function jsonLinesSink(fd = 2): AuditSink {
  return {
    name: 'stderr',
    write(_fields, line) {
      const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
    },
  };
}
