import type { AuditAction, AuditEvent } from './event.js';
import { isSecretName, REDACTED, redactText } from './redact.js';

/** The one identifier of library, CLI and udev helper: `journalctl -t nvmf-registry`. */
export const SYSLOG_IDENTIFIER = 'nvmf-registry';

/** Journal fields of one record: journald names (`MESSAGE`, `NVMF_DEVICE`, ...) to values. */
export type JournalFields = Record<string, string>;

/** Who is recording: filled in per process, overridable in tests. */
export interface RecordContext {
  pid: number;
  uid: number | null;
  argv: readonly string[];
}

/** syslog priorities (journald `PRIORITY`). */
export const PRIORITY = Object.freeze({ err: 3, warning: 4, notice: 5, info: 6 });

// Values are bounded so a record always fits one journald datagram (the native protocol
// has no fragmentation; systemd falls back to a memfd past the socket's send buffer).
export const MAX_VALUE_CHARS = 4096;

const NOTICE: ReadonlySet<AuditAction> = new Set<AuditAction>([
  'entry-removed',
  'claim',
  'disown',
  'owner-changed',
  'gc-removed',
  'disconnect',
  'disconnect-all-disconnect',
  'udev-removed',
]);

export function priorityOf(event: AuditEvent): number {
  if (event.error !== undefined || event.action.endsWith('-failed')) return PRIORITY.err;
  return NOTICE.has(event.action) ? PRIORITY.notice : PRIORITY.info;
}

function bound(value: string): string {
  const clean = redactText(value);
  return clean.length > MAX_VALUE_CHARS ? `${clean.slice(0, MAX_VALUE_CHARS)}...(truncated)` : clean;
}

const ownerText = (o: string | null | undefined): string => (o === null || o === undefined ? '(none)' : o);

/** The human line: `nvme4: owner-changed k8s -> stas (by udev): reason`. */
export function messageOf(event: AuditEvent): string {
  let m = event.device !== undefined ? `${event.device}: ${event.action}` : event.action;
  if (event.prevOwner !== undefined && event.owner !== undefined) {
    m += ` ${ownerText(event.prevOwner)} -> ${ownerText(event.owner)}`;
  } else if (event.owner !== undefined) {
    m += ` owner=${ownerText(event.owner)}`;
  } else if (event.prevOwner !== undefined) {
    m += ` prev=${ownerText(event.prevOwner)}`;
  }
  if (event.seqnum !== undefined) m += ` seqnum=${event.seqnum}`;
  if (event.by !== undefined) m += ` (by ${event.by})`;
  if (event.reason !== undefined) m += `: ${event.reason}`;
  if (event.error !== undefined) m += `: error: ${event.error}`;
  return m;
}

/** `extra` keys become `NVMF_<KEY>`: journald accepts only `[A-Z0-9_]`, not leading `_`, ≤ 64. */
export function fieldName(key: string): string {
  const up = key
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')
    .replace(/^_+/, '');
  return `NVMF_${up}`.slice(0, 64);
}

/**
 * The journal fields of an event. Owners that are `null` (unowned) are left out so that
 * `NVMF_OWNER=x` matches only records where x is the owner; the MESSAGE says "(none)".
 */
export function toJournalFields(event: AuditEvent, ctx: RecordContext): JournalFields {
  const f: JournalFields = {
    MESSAGE: bound(messageOf(event)),
    PRIORITY: String(priorityOf(event)),
    SYSLOG_IDENTIFIER,
    NVMF_ACTION: event.action,
  };
  if (event.device !== undefined) f.NVMF_DEVICE = bound(event.device);
  if (typeof event.owner === 'string') f.NVMF_OWNER = bound(event.owner);
  if (typeof event.prevOwner === 'string') f.NVMF_PREV_OWNER = bound(event.prevOwner);
  if (event.reason !== undefined) f.NVMF_REASON = bound(event.reason);
  if (event.seqnum !== undefined) f.NVMF_SEQNUM = String(event.seqnum);
  if (event.by !== undefined) f.NVMF_BY = bound(event.by);
  if (event.error !== undefined) f.NVMF_ERROR = bound(event.error);
  for (const [k, v] of Object.entries(event.extra ?? {})) {
    const name = fieldName(k);
    if (name in f) continue; // extra never overrides a schema field
    f[name] = isSecretName(k) ? REDACTED : bound(v === null ? '' : String(v));
  }
  f.NVMF_PID = String(ctx.pid);
  if (ctx.uid !== null) f.NVMF_UID = String(ctx.uid);
  f.NVMF_COMMAND = bound(ctx.argv.join(' '));
  return f;
}

/** The redacted command line and ids of this process. */
export function processContext(argvRedactor: (argv: readonly string[]) => string): RecordContext {
  return {
    pid: process.pid,
    uid: typeof process.getuid === 'function' ? process.getuid() : null,
    argv: [argvRedactor(process.argv)],
  };
}
