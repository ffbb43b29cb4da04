import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { NvmfError } from '../errors.js';
import { escapeText } from '../text.js';
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

/**
 * A record from journalctl's JSON (time from `__REALTIME_TIMESTAMP`) or from a line of the
 * audit file (the same field names, time in `time`).
 */
export function parseJournalRecord(obj: Record<string, unknown>): AuditLogRecord {
  const f = (k: string): string | null => journalValue(obj[k]);
  const usec = f('__REALTIME_TIMESTAMP');
  const iso = f('time');
  return {
    time:
      usec !== null && /^[0-9]+$/.test(usec)
        ? new Date(Number(BigInt(usec) / 1000n)).toISOString()
        : iso !== null && !Number.isNaN(Date.parse(iso))
          ? new Date(iso).toISOString()
          : null,
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
        ? `cannot run ${command}: not found; records sent to journald cannot be read back without it (NVMF_AUDIT_SINK=file nvmf registry log reads the audit file)`
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

/**
 * `--since` for the audit file: an ISO 8601 time (or anything Date.parse takes), `today`,
 * `yesterday`, or `-N[smhd]` back from now. journalctl's richer syntax needs journalctl.
 */
export function parseSince(since: string, now: Date = new Date()): number {
  const rel = /^-([0-9]{1,9})([smhd])$/.exec(since);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return now.getTime() - Number(rel[1]) * unit;
  }
  if (since === 'today' || since === 'yesterday') {
    const d = new Date(now);
    d.setHours(0, 0, 0, 0);
    if (since === 'yesterday') d.setDate(d.getDate() - 1);
    return d.getTime();
  }
  const t = Date.parse(since);
  if (Number.isNaN(t)) {
    throw new NvmfError(
      'EUSAGE',
      `--since ${JSON.stringify(since)} is not a time the audit file can use: give an ISO 8601 time, today, yesterday or -N[smhd]`,
      { value: since },
    );
  }
  return t;
}

export interface ReadAuditFileOptions {
  device?: string;
  lines?: number;
  since?: string;
  /** Rotated generations to read before the file: PATH.N .. PATH.1 (default 3, as written). */
  keep?: number;
}

/**
 * The records of the audit file and its rotated generations, oldest first. A line that is
 * not a record of ours (a torn last line, another program's) is skipped; a missing file is
 * no records. Other read errors are reported.
 */
export function readAuditFile(file: string, opts: ReadAuditFileOptions = {}): AuditLogRecord[] {
  const since = opts.since === undefined ? null : parseSince(opts.since);
  const paths: string[] = [];
  for (let i = opts.keep ?? 3; i >= 1; i--) paths.push(`${file}.${i}`);
  paths.push(file);
  const out: AuditLogRecord[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new NvmfError('EIO', `cannot read the audit file ${p}: ${code ?? String(e)}`, {
        path: p,
        errno: code,
      });
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (obj.SYSLOG_IDENTIFIER !== SYSLOG_IDENTIFIER || typeof obj.NVMF_ACTION !== 'string') continue;
      const r = parseJournalRecord(obj);
      if (opts.device !== undefined && r.device !== opts.device) continue;
      if (since !== null && (r.time === null || Date.parse(r.time) < since)) continue;
      out.push(r);
    }
  }
  return opts.lines !== undefined ? out.slice(-opts.lines) : out;
}

/** One line per record: `time device action details`. */
export function formatAuditLogLine(r: AuditLogRecord): string {
  // values as recorded are escaped (escapeText); the free-text ones are JSON-quoted instead
  const e = escapeText;
  const parts = [e(r.time ?? '-'), e(r.device ?? '-'), e(r.action ?? '-')];
  if (r.prevOwner !== null) parts.push(`owner=${e(r.prevOwner)}->${e(r.owner ?? '(none)')}`);
  else if (r.owner !== null) parts.push(`owner=${e(r.owner)}`);
  if (r.seqnum !== null) parts.push(`seqnum=${r.seqnum}`);
  if (r.by !== null) parts.push(`by=${e(r.by)}`);
  if (r.pid !== null) parts.push(`pid=${r.pid}`);
  if (r.reason !== null) parts.push(`reason=${JSON.stringify(r.reason)}`);
  if (r.error !== null) parts.push(`error=${JSON.stringify(r.error)}`);
  if (r.command !== null) parts.push(`cmd=${JSON.stringify(r.command)}`);
  return parts.join(' ');
}
