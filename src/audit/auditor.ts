import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AuditEvent, Auditor } from './event.js';
import { type JournalFields, processContext, type RecordContext, toJournalFields } from './fields.js';
import { redactArgv, redactText } from './redact.js';
import { type AuditSink, JOURNAL_SOCKET, journalNativeSink, jsonLinesSink, loggerSink } from './sinks.js';

/**
 * The auditor: event -> journal fields (redacted) -> one pino record -> the first sink of
 * the chain that takes it. pino gives the record its one serialised shape (the JSON line
 * the stderr sink writes and the journald sinks are fed from); it is loaded on the first
 * record, not at import, so commands that record nothing never load it.
 */

export interface AuditorOptions {
  /** Sinks tried in order; the first that does not throw has the record. */
  sinks: readonly AuditSink[];
  /** Where a record goes when every sink failed, with the reasons (stderr by default). */
  lastResort?: AuditSink;
  /** Per-record process facts; defaults to this process (argv redacted). */
  context?: () => RecordContext;
}

type PinoLogger = { info(obj: object): void };

/** Fields pino adds that are not journal fields. */
const PINO_ONLY = new Set(['time', 'level']);

export function createAuditor(options: AuditorOptions): Auditor {
  const lastResort = options.lastResort ?? jsonLinesSink(2);
  const context = options.context ?? (() => processContext(redactArgv));
  let logger: PinoLogger | null = null;
  const warned = new Set<string>();

  // Sink layer: whatever reached here is redacted again, on the serialised line, before
  // any byte leaves the process.
  const deliver = (rawLine: string): void => {
    const line = redactText(rawLine.trimEnd());
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      lastResort.write({}, line);
      return;
    }
    const fields: JournalFields = {};
    for (const [k, v] of Object.entries(parsed)) if (!PINO_ONLY.has(k)) fields[k] = String(v);
    const failures: string[] = [];
    for (const sink of options.sinks) {
      try {
        sink.write(fields, line);
        if (failures.length > 0) noteFallback(failures, sink.name);
        return;
      } catch (e) {
        failures.push(`${sink.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (failures.length === 0) {
      lastResort.write(fields, line);
      return;
    }
    // Never silently dropped: the record goes out with why it did not reach the journal.
    const withError = JSON.stringify({ ...parsed, AUDIT_SINK_ERROR: failures.join('; ') });
    try {
      lastResort.write(fields, withError);
    } catch {
      // stderr itself is gone: nothing is left to tell
    }
  };

  const noteFallback = (failures: string[], usedName: string): void => {
    const key = failures.join('; ');
    if (warned.has(key)) return;
    warned.add(key);
    try {
      lastResort.write(
        {},
        JSON.stringify({
          SYSLOG_IDENTIFIER: 'nvmf-registry',
          AUDIT_SINK_WARNING: `${key}; using ${usedName}`,
        }),
      );
    } catch {
      // as above
    }
  };

  const getLogger = (): PinoLogger => {
    if (logger) return logger;
    const require = createRequire(import.meta.url);
    const pino = require('pino') as typeof import('pino').default;
    logger = pino(
      {
        base: null,
        messageKey: 'MESSAGE',
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      { write: deliver },
    ) as PinoLogger;
    return logger;
  };

  return {
    record(event: AuditEvent): void {
      try {
        getLogger().info(toJournalFields(event, context()));
      } catch (e) {
        // record() never throws into the library; say what was lost and why
        try {
          lastResort.write(
            {},
            redactText(
              JSON.stringify({ SYSLOG_IDENTIFIER: 'nvmf-registry', ...event, AUDIT_SINK_ERROR: String(e) }),
            ),
          );
        } catch {
          // nothing left
        }
      }
    },
  };
}

export type AuditSinkMode = 'auto' | 'journal' | 'logger' | 'stderr';

export interface SinkChainOptions {
  mode?: AuditSinkMode;
  socketPath?: string;
  loggerCommand?: string;
  stderrFd?: number;
}

/**
 * The chain for a mode. `auto`: journald (native, then `logger --journald` when the socket
 * is the system one) if the journal socket exists, else JSON lines on stderr.
 */
export function sinkChain(opts: SinkChainOptions = {}): AuditSink[] {
  const mode = opts.mode ?? 'auto';
  const socketPath = opts.socketPath ?? JOURNAL_SOCKET;
  const journal = (): AuditSink[] => {
    const s = [journalNativeSink(socketPath)];
    if (socketPath === JOURNAL_SOCKET) s.push(loggerSink(opts.loggerCommand));
    return s;
  };
  switch (mode) {
    case 'journal':
      return journal();
    case 'logger':
      return [loggerSink(opts.loggerCommand)];
    case 'stderr':
      return [jsonLinesSink(opts.stderrFd)];
    default:
      return existsSync(socketPath) ? journal() : [jsonLinesSink(opts.stderrFd)];
  }
}

/** Options from `NVMF_AUDIT_SINK` (auto|journal|logger|stderr) and `NVMF_JOURNAL_SOCKET`. */
export function sinkChainOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): SinkChainOptions {
  const raw = env.NVMF_AUDIT_SINK;
  const mode: AuditSinkMode =
    raw === 'journal' || raw === 'logger' || raw === 'stderr' || raw === 'auto' ? raw : 'auto';
  const o: SinkChainOptions = { mode };
  if (env.NVMF_JOURNAL_SOCKET) o.socketPath = env.NVMF_JOURNAL_SOCKET;
  return o;
}
