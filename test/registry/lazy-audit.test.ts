import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-lazy-audit-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Records every module URL the process resolves, so the test sees ES modules load.
const hooks = `
import fs from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  fs.appendFileSync(${JSON.stringify(path.join(dir, 'loaded.txt'))}, r.url + '\\n');
  return r;
}`;
const register = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;

const probe = `
import fs from 'node:fs';
const { Registry } = await import(${JSON.stringify(path.join(root, 'src/registry/index.ts'))});
const loaded = () => fs.readFileSync(${JSON.stringify(path.join(dir, 'loaded.txt'))}, 'utf8');
const reg = Registry.open({ roots: { registry: ${JSON.stringify(path.join(dir, 'reg'))}, dev: ${JSON.stringify(dir)}, sysfs: ${JSON.stringify(dir)} }, env: {} });
reg.list();
const before = loaded().split('\\n').filter((u) => u.includes('/src/audit/')).map((u) => u.split('/src/audit/')[1]);
reg.create('nvme1', { owner: 'stas', seqnum: 5 });
process.stdout.write(JSON.stringify({ before: [...new Set(before)].sort() }));
`;

describe('default auditor', () => {
  it('importing and reading the registry loads none of the audit machinery; the first record does', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        `data:text/javascript,${encodeURIComponent(register)}`,
        '--input-type=module',
        '-e',
        probe,
      ],
      { cwd: root, env: { ...process.env, NVMF_AUDIT_SINK: 'stderr' }, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { before: string[] };
    // default.ts itself, plus type-only imports erased at compile time
    expect(out.before.filter((u) => !u.startsWith('default.') && !u.startsWith('event.'))).toEqual([]);
    // The record went through the real machinery (journal field names), not the fallback line.
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(line).not.toHaveProperty('NVMF_AUDIT_FALLBACK');
    expect(line).toMatchObject({
      NVMF_ACTION: 'entry-created',
      NVMF_DEVICE: 'nvme1',
      NVMF_OWNER: 'stas',
    });
  });
});
