import type * as ChildProcess from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { makeDirs } from '../dirs.js';
import type { JournalFields } from './fields.js';
import { encodeNative } from './journal-native.js';
import { redactText } from './redact.js';
import { DatagramError, sendDatagram } from './unix-dgram.js';

/**
 * node:child_process (which loads net, dgram and the stream stack) only for the logger
 * fallback: every auditor loads this module, few ever spawn logger.
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

/** One record as the sinks get it: the journal fields (already redacted) and when it was made. */
export interface AuditRecord {
  readonly fields: JournalFields;
  readonly time: Date;
}

/**
 * One place records can go. `write` is synchronous (the CLI exits right after recording and
 * must not lose a buffered record) and throws when the record did not get there.
 */
export interface AuditSink {
  readonly name: string;
  write(record: AuditRecord): void;
}

/**
 * A record as one JSON line: `time` (ISO 8601) then the journal fields. Values were redacted
 * field by field; the whole line is redacted once more before it leaves the process.
 */
export function jsonLine(record: AuditRecord, more: Record<string, string> = {}): string {
  return `${redactText(JSON.stringify({ time: record.time.toISOString(), ...record.fields, ...more }))}\n`;
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off);
}

/** journald over its native datagram protocol: every field stays searchable. */
export function journalNativeSink(socketPath: string = JOURNAL_SOCKET): AuditSink {
  return {
    name: 'journald',
    write({ fields }) {
      sendDatagram(socketPath, encodeNative(fields));
    },
  };
}

/**
 * `logger --journald`: fields as `NAME=value` lines on stdin. It can only reach the default
 * socket, and it exits 0 even when no journald listens, so it stands in for the native sink
 * only when that one cannot load (no koffi build), never to detect a journal.
 * Newlines in values are sent as `\n` (the line format cannot carry them).
 */
export function loggerSink(command = 'logger', timeoutMs = 5000): AuditSink {
  return {
    name: 'logger',
    write({ fields }) {
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
 * journald: the native protocol, and `logger --journald` in its place when the native sink
 * cannot load at all (on the system socket only: logger reaches no other). A journald that
 * refuses the datagram (not running, socket stale) is a failure of this sink, so the chain
 * moves on to the file instead of handing the record to a logger that would drop it.
 */
export function journaldSink(socketPath: string = JOURNAL_SOCKET, loggerCommand?: string): AuditSink {
  const native = journalNativeSink(socketPath);
  const logger = socketPath === JOURNAL_SOCKET ? loggerSink(loggerCommand) : null;
  return {
    name: 'journald',
    write(record) {
      try {
        native.write(record);
      } catch (e) {
        if (e instanceof DatagramError || logger === null) throw e;
        logger.write(record);
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
    write(record) {
      writeAll(fd, jsonLine(record));
    },
  };
}

export interface FileSinkOptions {
  path: string;
  /** Rotate before a write would take the file past this size (default 8 MiB). */
  maxBytes?: number;
  /** Rotated generations kept: PATH.1 (newest) .. PATH.N (default 3). */
  keep?: number;
}

export const DEFAULT_FILE_MAX_BYTES = 8 * 1024 * 1024;
export const DEFAULT_FILE_KEEP = 3;

/**
 * JSON lines appended to a file, bounded by rotation: when a record would take the file past
 * `maxBytes`, PATH.N-1 .. PATH.1 move up one (PATH.N is dropped), PATH becomes PATH.1 and a
 * new PATH starts. Each record is one `write(2)` with O_APPEND, so lines of concurrent writers
 * (an orchestrator, the CLI) never interleave. A writer rotates only while PATH is still the
 * file it measured, so two writers crossing the limit together rotate once; a record written
 * through an already rotated descriptor lands in PATH.1, not lost. The directory is created
 * (0755) and the file is 0640: command lines are redacted, but owners and devices are the
 * host's business. Any failure throws, and the auditor puts the record on stderr instead.
 */
export function jsonFileSink(opts: FileSinkOptions): AuditSink {
  const file = opts.path;
  const maxBytes = opts.maxBytes ?? DEFAULT_FILE_MAX_BYTES;
  const keep = Math.max(1, opts.keep ?? DEFAULT_FILE_KEEP);
  const open = (): number => {
    const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT;
    try {
      return fs.openSync(file, flags, 0o640);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      makeDirs(path.dirname(file), 0o755);
      return fs.openSync(file, flags, 0o640);
    }
  };
  const rotate = (measured: fs.Stats): void => {
    const now = fs.statSync(file, { throwIfNoEntry: false });
    if (now === undefined || now.ino !== measured.ino || now.dev !== measured.dev) return;
    for (let i = keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    fs.renameSync(file, `${file}.1`);
  };
  return {
    name: 'file',
    write(record) {
      const line = jsonLine(record);
      let fd = open();
      try {
        const st = fs.fstatSync(fd);
        if (st.size > 0 && st.size + Buffer.byteLength(line) > maxBytes) {
          rotate(st);
          fs.closeSync(fd);
          fd = -1;
          fd = open();
        }
        writeAll(fd, line);
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    },
  };
}

/** Auditing switched off (`NVMF_AUDIT_SINK=off`): every record is accepted and dropped. */
export function offSink(): AuditSink {
  return { name: 'off', write() {} };
}
