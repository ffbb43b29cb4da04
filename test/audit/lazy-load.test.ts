import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

// In a fresh process: importing the default auditor (the registry library does) must not load
// pino or koffi; only the first record does. Startup budget of `nvmf registry list`.
const probe = `
import { createRequire } from 'node:module';
const { defaultAuditor } = await import(${JSON.stringify(path.join(root, 'src/audit/default.ts'))});
const cache = () => Object.keys(createRequire(import.meta.url).cache);
const has = (name) => cache().some((k) => k.includes('/node_modules/' + name + '/'));
const a = defaultAuditor();
const before = { pino: has('pino'), koffi: has('koffi') };
a.record({ action: 'claim', device: 'nvme1', owner: 'x' });
const after = { pino: has('pino'), koffi: has('koffi') };
process.stdout.write(JSON.stringify({ before, after, same: a === defaultAuditor() }));
`;

describe('lazy loading', () => {
  it('pino and koffi load on the first record, not on import', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
      cwd: root,
      env: { ...process.env, NVMF_AUDIT_SINK: 'stderr' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      before: { pino: false, koffi: false },
      after: { pino: true, koffi: false },
      same: true,
    });
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({
      NVMF_ACTION: 'claim',
      NVMF_OWNER: 'x',
    });
  });
});
