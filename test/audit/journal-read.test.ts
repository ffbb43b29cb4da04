import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatAuditLogLine,
  journalValue,
  parseSince,
  readAuditFile,
  readAuditLog,
} from '../../src/audit/journal-read.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'nvmf-jr-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

// What journalctl -o json prints for two of our records (one with a binary-encoded value).
const lines = [
  JSON.stringify({
    __REALTIME_TIMESTAMP: '1763750000123456',
    _PID: '900',
    MESSAGE: 'nvme4: owner-changed k8s -> stas',
    PRIORITY: '5',
    SYSLOG_IDENTIFIER: 'nvmf-registry',
    NVMF_ACTION: 'owner-changed',
    NVMF_DEVICE: 'nvme4',
    NVMF_OWNER: 'stas',
    NVMF_PREV_OWNER: 'k8s',
    NVMF_PID: '4242',
    NVMF_UID: '0',
    NVMF_COMMAND: 'nvmf registry claim nvme4 stas --force',
  }),
  JSON.stringify({
    __REALTIME_TIMESTAMP: '1763750001000000',
    _PID: '77',
    MESSAGE: 'nvme4: udev-removed',
    SYSLOG_IDENTIFIER: ['nvmf-registry', 'nvmf-registry'],
    NVMF_ACTION: 'udev-removed',
    NVMF_DEVICE: 'nvme4',
    NVMF_SEQNUM: '5131',
    NVMF_BY: 'udev',
    NVMF_REASON: [...Buffer.from('node gone\nstamp older')],
  }),
  '',
];

function fakeJournalctl(status = 0): string {
  const f = path.join(dir, 'journalctl');
  const out = path.join(dir, 'out.jsonl');
  fs.writeFileSync(out, lines.join('\n'));
  fs.writeFileSync(
    f,
    `#!/bin/sh\nprintf '%s\\n' "$*" > '${dir}/args'\n[ ${status} = 0 ] || { echo "No journal files were found." >&2; exit ${status}; }\ncat '${out}'\n`,
  );
  fs.chmodSync(f, 0o755);
  return f;
}

describe('readAuditLog', () => {
  it('asks journalctl for our identifier and device and parses its JSON', async () => {
    const records = await readAuditLog({ device: 'nvme4', command: fakeJournalctl() });
    expect(fs.readFileSync(path.join(dir, 'args'), 'utf8')).toBe(
      '-o json --no-pager SYSLOG_IDENTIFIER=nvmf-registry NVMF_DEVICE=nvme4\n',
    );
    expect(records).toEqual([
      {
        time: '2025-11-21T18:33:20.123Z',
        action: 'owner-changed',
        device: 'nvme4',
        owner: 'stas',
        prevOwner: 'k8s',
        reason: null,
        seqnum: null,
        by: null,
        error: null,
        pid: 4242,
        uid: 0,
        command: 'nvmf registry claim nvme4 stas --force',
        message: 'nvme4: owner-changed k8s -> stas',
        priority: 5,
      },
      expect.objectContaining({
        action: 'udev-removed',
        by: 'udev',
        seqnum: 5131,
        pid: 77,
        reason: 'node gone\nstamp older',
      }),
    ]);
    expect(records.map(formatAuditLogLine)).toEqual([
      '2025-11-21T18:33:20.123Z nvme4 owner-changed owner=k8s->stas pid=4242 cmd="nvmf registry claim nvme4 stas --force"',
      '2025-11-21T18:33:21.000Z nvme4 udev-removed seqnum=5131 by=udev pid=77 reason="node gone\\nstamp older"',
    ]);
  });

  it('reports journalctl failures and absence as NvmfError', async () => {
    await expect(readAuditLog({ command: fakeJournalctl(1) })).rejects.toThrow(
      /status 1\): No journal files were found/,
    );
    await expect(readAuditLog({ command: path.join(dir, 'nope') })).rejects.toThrow(/not found/);
  });

  it('journal values: strings, byte arrays, repeated fields, null', () => {
    expect(journalValue('a')).toBe('a');
    expect(journalValue([104, 105])).toBe('hi');
    expect(journalValue(['a', 'b'])).toBe('b');
    expect(journalValue(null)).toBeNull();
  });
});

describe('readAuditFile', () => {
  const line = (time: string, action: string, device: string): string =>
    JSON.stringify({ time, SYSLOG_IDENTIFIER: 'nvmf-registry', NVMF_ACTION: action, NVMF_DEVICE: device });

  it('reads the rotated generations oldest first, skips torn and foreign lines, filters', () => {
    const file = path.join(dir, 'audit.jsonl');
    fs.writeFileSync(`${file}.2`, `${line('2026-01-01T00:00:00.000Z', 'claim', 'nvme1')}\n`);
    fs.writeFileSync(
      `${file}.1`,
      `${line('2026-01-02T00:00:00.000Z', 'disown', 'nvme1')}\n{"SYSLOG_IDENTIFIER":"other","NVMF_ACTION":"x"}\n`,
    );
    fs.writeFileSync(file, `${line('2026-01-03T00:00:00.000Z', 'claim', 'nvme2')}\n{"time":"2026-01-0`);
    const all = readAuditFile(file);
    expect(all.map((r) => `${r.action}:${r.device}:${r.time}`)).toEqual([
      'claim:nvme1:2026-01-01T00:00:00.000Z',
      'disown:nvme1:2026-01-02T00:00:00.000Z',
      'claim:nvme2:2026-01-03T00:00:00.000Z',
    ]);
    expect(readAuditFile(file, { device: 'nvme1', lines: 1 }).map((r) => r.action)).toEqual(['disown']);
    expect(readAuditFile(file, { since: '2026-01-02' }).map((r) => r.device)).toEqual(['nvme1', 'nvme2']);
    expect(readAuditFile(path.join(dir, 'absent.jsonl'))).toEqual([]);
  });

  it('--since: ISO times, today, yesterday, -N[smhd]; anything else is a usage error', () => {
    const now = new Date('2026-03-10T12:00:00.000Z');
    expect(parseSince('-2h', now)).toBe(now.getTime() - 2 * 3600e3);
    expect(parseSince('2026-03-01T00:00:00Z', now)).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(parseSince('yesterday', now)).toBe(parseSince('today', now) - 86400e3);
    expect(() => parseSince('last tuesday', now)).toThrow(/not a time the audit file can use/);
  });
});
