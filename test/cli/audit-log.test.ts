import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Host, nvmf, tempHost, writeEntry } from './helpers.js';

/**
 * Where there is no journald the audit trail goes to the JSON-lines file, never to the
 * terminal, and `nvmf registry log` reads that file back and says so.
 */
function hostWithoutJournald(): Host & { file: string } {
  const host = tempHost();
  const file = path.join(host.dir, 'log', 'audit.jsonl');
  delete host.env['NVMF_AUDIT_SINK'];
  host.env['NVMF_JOURNAL_SOCKET'] = path.join(host.dir, 'no-journal.sock');
  host.env['NVMF_AUDIT_FILE'] = file;
  writeEntry(host, 'nvme3', { owner: 'stas', seqnum: '12' });
  writeEntry(host, 'nvme4', { seqnum: '13' });
  return { ...host, file };
}

describe('audit trail without journald', () => {
  it('a command prints one line of what it did; its record goes to the file, not the terminal', () => {
    const host = hostWithoutJournald();
    const r = nvmf(host.env, ['registry', 'claim', 'nvme4', '--owner', 'bob']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const lines = fs.readFileSync(host.file, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ NVMF_ACTION: 'claim', NVMF_DEVICE: 'nvme4', NVMF_OWNER: 'bob' }),
    ]);
  });

  it('registry log reads the file, says which sink it read and why', () => {
    const host = hostWithoutJournald();
    expect(nvmf(host.env, ['registry', 'claim', 'nvme4', '--owner', 'bob']).code).toBe(0);
    expect(nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'ann', '--expect', 'stas']).code).toBe(0);

    const text = nvmf(host.env, ['registry', 'log', 'nvme3']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/ nvme3 owner-changed owner=stas->ann /);
    expect(text.stdout).not.toContain('nvme4');
    expect(text.messages).toContain(`audit records from ${host.file}`);
    expect(text.messages).toContain('(journald is not running: no socket ');

    const json = nvmf(host.env, ['registry', 'log', '-n', '1', '-o', 'json']);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { sink: string; path: string; records: Record<string, unknown>[] };
    expect(out.sink).toBe('file');
    expect(out.path).toBe(host.file);
    expect(out.records).toEqual([
      expect.objectContaining({ action: 'owner-changed', device: 'nvme3', owner: 'ann', prevOwner: 'stas' }),
    ]);
  });

  it('registry log before anything was recorded says there is no file yet, exit 0', () => {
    const host = hostWithoutJournald();
    const r = nvmf(host.env, ['registry', 'log']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.messages).toContain(`no audit file ${host.file} yet`);
  });

  it.each([
    ['stderr', "records went to each command's stderr and were not kept"],
    ['off', 'auditing is off'],
  ])('NVMF_AUDIT_SINK=%s: registry log says there is nothing to read, exit 1', (sink, says) => {
    const host = hostWithoutJournald();
    host.env['NVMF_AUDIT_SINK'] = sink;
    const r = nvmf(host.env, ['registry', 'log']);
    expect(r.code).toBe(1);
    expect(r.messages).toContain(says);
  });

  it('NVMF_AUDIT_SINK=off records nothing anywhere; the change is still made and printed', () => {
    const host = hostWithoutJournald();
    host.env['NVMF_AUDIT_SINK'] = 'off';
    const r = nvmf(host.env, ['registry', 'claim', 'nvme4', '--owner', 'bob']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('nvme4');
    expect(fs.existsSync(host.file)).toBe(false);
  });
});
