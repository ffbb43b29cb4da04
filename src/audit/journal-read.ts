import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { NvmfError } from '../errors.js';
import { SYSLOG_IDENTIFIER } from './fields.js';

/** One audit record read back from the journal. */
export interface AuditLogRecord {
  /** ISO 8601, from the journal's receive timestamp. */
  time: string | null;
  action: string | null;
  device: string | null;
  owner: string | null;
  prevOwner: string | null;
  reason: string | null;
  seqnum: number | null;
  by: string | null;
  error: string | null;
  pid: number | null;
  uid: number | null;
  command: string | null;
  message: string | null;
  priority: number | null;
}

/**
 * A journal field value as `journalctl -o json` prints it: a string, an array of byte values
 * (not valid UTF-8 or binary), null (too large), or an array of those (the field repeats;
 * the last one wins, as journald's own display does).
 */
export function journalValue(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((b) => typeof b === 'number'))
      return Buffer.from(v as number[]).toString('utf8');
    return v.length > 0 ? journalValue(v[v.length - 1]) : null;
  }
  return null;
}

const int = (s: string | null): number | null => (s !== null && /^[0-9]+$/.test(s) ? Number(s) : null);

export function parseJournalRecord(obj: Record<string, unknown>): AuditLogRecord {
  const f = (k: string): string | null => journalValue(obj[k]);
  const usec = f('__REALTIME_TIMESTAMP');
  return {
    time:
      usec !== null && /^[0-9]+$/.test(usec) ? new Date(Number(BigInt(usec) / 1000n)).toISOString() : null,
    action: f('NVMF_ACTION'),
    device: f('NVMF_DEVICE'),
    owner: f('NVMF_OWNER'),
    prevOwner: f('NVMF_PREV_OWNER'),
    reason: f('NVMF_REASON'),
    seqnum: int(f('NVMF_SEQNUM')),
    by: f('NVMF_BY'),
    error: f('NVMF_ERROR'),
    pid: int(f('NVMF_PID')) ?? int(f('_PID')),
    uid: int(f('NVMF_UID')) ?? int(f('_UID')),
    command: f('NVMF_COMMAND'),
    message: f('MESSAGE'),
    priority: int(f('PRIORITY')),
  };
}

/** `journalctl` arguments for the audit trail (of one device). */
export function journalctlArgs(opts: { device?: string; lines?: number; since?: string }): string[] {
  const args = ['-o', 'json', '--no-pager'];
  if (opts.lines !== undefined) args.push('-n', String(opts.lines));
  if (opts.since !== undefined) args.push('--since', opts.since);
  args.push(`SYSLOG_IDENTIFIER=${SYSLOG_IDENTIFIER}`);
  if (opts.device !== undefined) args.push(`NVMF_DEVICE=${opts.device}`);
  return args;
}

export interface ReadAuditLogOptions {
  device?: string;
  lines?: number;
  since?: string;
  /** Executable (default `journalctl` on PATH); tests point it at a fake. */
  command?: string;
}

/** Run journalctl and parse its JSON lines. Lines that are not JSON objects are skipped. */
export async function readAuditLog(opts: ReadAuditLogOptions = {}): Promise<AuditLogRecord[]> {
  const command = opts.command ?? 'journalctl';
  const child = spawn(command, journalctlArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'] });
  const records: AuditLogRecord[] = [];
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      records.push(parseJournalRecord(JSON.parse(line) as Record<string, unknown>));
    } catch {
      // a truncated last line of a journal being written
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const [code, spawnError] = await new Promise<[number | null, NodeJS.ErrnoException | null]>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => resolve([null, e]));
    child.once('close', (c) => resolve([c, null]));
  });
  if (spawnError) {
    throw new NvmfError(
      'EIO',
      spawnError.code === 'ENOENT'
        ? `cannot run ${command}: not found (the audit trail is in the systemd journal; without journald, records went to stderr as JSON lines)`
        : `cannot run ${command}: ${spawnError.message}`,
      { command, errno: spawnError.code },
    );
  }
  if (code !== 0) {
    throw new NvmfError('EIO', `${command} failed (status ${code}): ${stderr.trim() || 'no message'}`, {
      command,
      code,
    });
  }
  return records;
}

/** One line per record: `time device action details`. */
export function formatAuditLogLine(r: AuditLogRecord): string {
  const parts = [r.time ?? '-', r.device ?? '-', r.action ?? '-'];
  if (r.prevOwner !== null) parts.push(`owner=${r.prevOwner}->${r.owner ?? '(none)'}`);
  else if (r.owner !== null) parts.push(`owner=${r.owner}`);
  if (r.seqnum !== null) parts.push(`seqnum=${r.seqnum}`);
  if (r.by !== null) parts.push(`by=${r.by}`);
  if (r.pid !== null) parts.push(`pid=${r.pid}`);
  if (r.reason !== null) parts.push(`reason=${JSON.stringify(r.reason)}`);
  if (r.error !== null) parts.push(`error=${JSON.stringify(r.error)}`);
  if (r.command !== null) parts.push(`cmd=${JSON.stringify(r.command)}`);
  return parts.join(' ');
}
