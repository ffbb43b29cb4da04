import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN, nvmf, tempHost, writeEntry } from './helpers.js';

/** `nvmf` with one argument holding raw bytes (a shell's $'...'), which spawn cannot pass from JS strings. */
function nvmfRaw(env: Record<string, string>, before: string[], rawPrintf: string, after: string[] = []) {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = `exec ${q(process.execPath)} ${q(MAIN)} ${before.map(q).join(' ')} "$(printf ${q(rawPrintf)})" ${after.map(q).join(' ')}`;
  return spawnSync('sh', ['-c', cmd], { env, encoding: 'utf8', timeout: 30_000 });
}

describe('bytes that are not UTF-8, and control characters', () => {
  it('an owner with an invalid UTF-8 byte is refused with the grammar error, as the API refuses it', () => {
    const host = tempHost({ NVMF_AUDIT_SINK: 'off' });
    writeEntry(host, 'nvme1', { owner: 'stas', seqnum: '1' });
    const r = nvmfRaw(host.env, ['registry', 'claim', 'nvme1', '--owner'], 'st\\377as');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid owner .*invalid UTF-8/);
    expect(fs.readFileSync(path.join(host.env['NVMF_REGISTRY_ROOT']!, 'nvme1', 'owner'), 'utf8')).toBe(
      'stas\n',
    );
  });

  it('an owner file holding such a byte or a newline: shown escaped, and invalid data on disk is exit 1', () => {
    const host = tempHost({ NVMF_AUDIT_SINK: 'off' });
    const reg = host.env['NVMF_REGISTRY_ROOT']!;
    writeEntry(host, 'nvme1', { seqnum: '1' });
    fs.writeFileSync(path.join(reg, 'nvme1', 'owner'), Buffer.from([0x73, 0x74, 0xff, 0x61, 0x73, 0x0a]));
    writeEntry(host, 'nvme2', { owner: 'v\nnvme7   forged', seqnum: '2' });
    const list = nvmf(host.env, ['registry', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toMatch(/^nvme7/m);
    expect(list.stdout).toMatch(/^nvme1\s+\?/m);
    expect(list.stderr).toContain('st\\xffas');
    for (const dev of ['nvme1', 'nvme2']) {
      const r = nvmf(host.env, ['registry', 'retrieve', dev, '-a', 'owner']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/the owner of nvme\d on disk, .* is invalid/);
    }
    // a junk stamp is invalid data on disk as well
    writeEntry(host, 'nvme3', { owner: 'stas', seqnum: '99999999999999999999' });
    const stamp = nvmf(host.env, ['registry', 'retrieve', 'nvme3', '-a', 'owner']);
    expect(stamp.code).toBe(1);
    expect(stamp.stderr).toContain('is not a decimal number of at most 18446744073709551615');
    // a bad name on the command line stays a usage error
    expect(nvmf(host.env, ['registry', 'retrieve', 'nvme01', '-a', 'owner']).code).toBe(2);
  });

  it('an attribute value with escape sequences cannot recolour or move the terminal', () => {
    const host = tempHost({ NVMF_AUDIT_SINK: 'off' });
    writeEntry(host, 'nvme1', { owner: 'stas', seqnum: '1', note: '\x1b[2J\x1b[31mred\u202eevil' });
    const list = nvmf(host.env, ['registry', 'list']);
    expect(list.stdout).not.toMatch(/[\x1b\u202e]/);
    expect(list.stdout).toContain('note=\\x1b[2J\\x1b[31mred\\u202eevil');
    const value = nvmf(host.env, ['registry', 'retrieve', 'nvme1', '-a', 'note']);
    expect(value.stdout).toBe('\\x1b[2J\\x1b[31mred\\u202eevil\n');
    const json = JSON.parse(
      nvmf(host.env, ['registry', 'retrieve', 'nvme1', '-a', 'note', '-o', 'json']).stdout,
    ) as {
      value: string;
    };
    expect(json.value).toBe('\x1b[2J\x1b[31mred\u202eevil');
  });
});
