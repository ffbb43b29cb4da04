import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN } from './helpers.js';

/** Modules `nvmf registry list` loads, recorded by a resolve hook in the CLI process. */
function loadedModules(): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-startup-'));
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(
    hooks,
    `export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('LOAD ' + r.url + '\\n'); return r; }`,
  );
  const reg = path.join(dir, 'reg.mjs');
  fs.writeFileSync(
    reg,
    `import { register } from 'node:module'; register(${JSON.stringify(`file://${hooks}`)});`,
  );
  fs.mkdirSync(path.join(dir, 'registry', 'nvme1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'registry', 'nvme1', 'owner'), 'stas\n');
  const r = spawnSync(process.execPath, ['--import', reg, MAIN, 'registry', 'list'], {
    env: {
      PATH: process.env['PATH'],
      NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
      NVMF_DEV_ROOT: dir,
      NVMF_ETC_ROOT: dir,
    },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOAD '))
    .map((l) => l.slice(5));
}

describe('start-up of nvmf registry list', () => {
  it('loads no pino, koffi, chokidar, engine or kernel adapter', () => {
    const mods = loadedModules();
    expect(mods.some((m) => m.includes('/src/registry/registry.js'))).toBe(true);
    for (const heavy of ['/pino/', '/koffi/', '/chokidar/', '/src/engine/', '/src/kernel/', '/src/watch/']) {
      expect(
        mods.filter((m) => m.includes(heavy)),
        heavy,
      ).toEqual([]);
    }
  });
});
