import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent, Auditor } from './event.js';
import { processContext, type RecordContext, SYSLOG_IDENTIFIER, toJournalFields } from './fields.js';
import { redactArgv, redactText } from './redact.js';
import {
  type AuditRecord,
  type AuditSink,
  JOURNAL_SOCKET,
  journaldSink,
  jsonFileSink,
  jsonLinesSink,
  loggerSink,
  offSink,
} from './sinks.js';

/**
 * The auditor: event -> journal fields (redacted, once) -> the first sink of the chain that
 * takes them. Each sink renders the fields its own way (a journald datagram, a JSON line);
 * nothing is serialised and parsed back.
 */

export interface AuditorOptions {
  /** Sinks tried in order; the first that does not throw has the record. */
  sinks: readonly AuditSink[];
  /** Where a record goes when every sink failed, with the reasons (stderr by default). */
  lastResort?: AuditSink;
  /** Per-record process facts; defaults to this process (argv redacted). */
  context?: () => RecordContext;
}

export function createAuditor(options: AuditorOptions): Auditor {
  const lastResort = options.lastResort ?? jsonLinesSink(2);
  const context = options.context ?? (() => processContext(redactArgv));
  const warned = new Set<string>();

  const deliver = (record: AuditRecord): void => {
    const failures: string[] = [];
    for (const sink of options.sinks) {
      try {
        sink.write(record);
        if (failures.length > 0) noteFallback(failures, sink.name);
        return;
      } catch (e) {
        failures.push(`${sink.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // Never silently dropped: the record goes out with why it did not reach its sink.
    const withError: AuditRecord =
      failures.length === 0
        ? record
        : { ...record, fields: { ...record.fields, AUDIT_SINK_ERROR: redactText(failures.join('; ')) } };
    try {
      lastResort.write(withError);
    } catch {
      // the last resort itself is gone: nothing is left to tell
    }
  };

  /** One warning per distinct failure, not one per record. */
  const noteFallback = (failures: string[], usedName: string): void => {
    const key = failures.join('; ');
    if (warned.has(key)) return;
    warned.add(key);
    try {
      lastResort.write({
        time: new Date(),
        fields: { SYSLOG_IDENTIFIER, AUDIT_SINK_WARNING: redactText(`${key}; using ${usedName}`) },
      });
    } catch {
      // as above
    }
  };

  return {
    record(event: AuditEvent): void {
      let record: AuditRecord;
      try {
        record = { fields: toJournalFields(event, context()), time: new Date() };
      } catch (e) {
        // record() never throws into the library; say what was lost and why
        record = {
          time: new Date(),
          fields: {
            SYSLOG_IDENTIFIER,
            NVMF_ACTION: String(event.action),
            AUDIT_SINK_ERROR: redactText(`cannot build the record: ${String(e)}`),
          },
        };
        try {
          lastResort.write(record);
        } catch {
          // nothing left
        }
        return;
      }
      deliver(record);
    },
  };
}

export type AuditSinkMode = 'auto' | 'journal' | 'logger' | 'file' | 'stderr' | 'off';
export const AUDIT_SINK_MODES: readonly AuditSinkMode[] = [
  'auto',
  'journal',
  'logger',
  'file',
  'stderr',
  'off',
];

export interface SinkChainOptions {
  mode?: AuditSinkMode;
  socketPath?: string;
  loggerCommand?: string;
  stderrFd?: number;
  /** The JSON-lines file (default: defaultAuditFile()). */
  filePath?: string;
  fileMaxBytes?: number;
  fileKeep?: number;
}

/** Where records go, as `nvmf registry log` reports it. */
export type AuditTarget =
  | { sink: 'journald'; socketPath: string }
  | { sink: 'logger' }
  | { sink: 'file'; path: string; why?: string }
  | { sink: 'stderr' }
  | { sink: 'off' };

/**
 * The default file: /var/log/nvmf-registry/audit.jsonl for root (who alone can change the
 * host's registry), and `$XDG_STATE_HOME/nvmf-registry/audit.jsonl` (default
 * `~/.local/state/...`) for anyone else, who can only change registries of their own
 * (a simulated host, a test root) and cannot write under /var/log.
 */
export function defaultAuditFile(
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number | null = typeof process.getuid === 'function' ? process.getuid() : null,
): string {
  if (uid === 0 || uid === null) return '/var/log/nvmf-registry/audit.jsonl';
  const state = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(state, 'nvmf-registry', 'audit.jsonl');
}

/**
 * The one decision of where records go. `auto`: journald when its socket exists, else the
 * JSON-lines file. Never the terminal unless asked (`stderr`).
 */
export function auditTarget(opts: SinkChainOptions = {}): AuditTarget {
  const socketPath = opts.socketPath ?? JOURNAL_SOCKET;
  const file = opts.filePath ?? defaultAuditFile();
  switch (opts.mode ?? 'auto') {
    case 'journal':
      return { sink: 'journald', socketPath };
    case 'logger':
      return { sink: 'logger' };
    case 'file':
      return { sink: 'file', path: file };
    case 'stderr':
      return { sink: 'stderr' };
    case 'off':
      return { sink: 'off' };
    default:
      return existsSync(socketPath)
        ? { sink: 'journald', socketPath }
        : { sink: 'file', path: file, why: `journald is not running: no socket ${socketPath}` };
  }
}

/**
 * The chain for a mode. journald is followed by the file, so a journald that stops answering
 * loses nothing (the auditor says once on stderr that it switched).
 */
export function sinkChain(opts: SinkChainOptions = {}): AuditSink[] {
  const t = auditTarget(opts);
  const file = (): AuditSink =>
    jsonFileSink({
      path: opts.filePath ?? defaultAuditFile(),
      ...(opts.fileMaxBytes !== undefined ? { maxBytes: opts.fileMaxBytes } : {}),
      ...(opts.fileKeep !== undefined ? { keep: opts.fileKeep } : {}),
    });
  switch (t.sink) {
    case 'journald':
      return [journaldSink(t.socketPath, opts.loggerCommand), file()];
    case 'logger':
      return [loggerSink(opts.loggerCommand)];
    case 'file':
      return [file()];
    case 'stderr':
      return [jsonLinesSink(opts.stderrFd)];
    case 'off':
      return [offSink()];
  }
}

/**
 * Options from the environment: `NVMF_AUDIT_SINK` (auto|journal|logger|file|stderr|off; an
 * unknown value is auto), `NVMF_JOURNAL_SOCKET`, `NVMF_AUDIT_FILE`.
 */
export function sinkChainOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): SinkChainOptions {
  const raw = env.NVMF_AUDIT_SINK;
  const mode = AUDIT_SINK_MODES.find((m) => m === raw) ?? 'auto';
  const o: SinkChainOptions = { mode };
  if (env.NVMF_JOURNAL_SOCKET) o.socketPath = env.NVMF_JOURNAL_SOCKET;
  o.filePath = env.NVMF_AUDIT_FILE || defaultAuditFile(env);
  return o;
}
