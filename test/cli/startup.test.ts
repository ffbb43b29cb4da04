import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAIN, REPO } from './helpers.js';

interface Loaded {
  /** Source files (repository-relative, e.g. `src/registry/registry.ts`) whose code was loaded. */
  sources: string[];
  /** Files loaded from node_modules, as ES modules or through require. */
  packages: string[];
  /** Node's own modules (process.moduleLoadList). */
  builtins: string[];
}

/** The esbuild metafile the build writes beside the bundle: which sources each output holds. */
function chunkSources(): Map<string, string[]> {
  const meta = JSON.parse(fs.readFileSync(path.join(path.dirname(MAIN), 'meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const map = new Map<string, string[]>();
  for (const [out, o] of Object.entries(meta.outputs))
    map.set(path.resolve(REPO, out), Object.keys(o.inputs));
  return map;
}

/**
 * What `nvmf ARGS` loads, recorded inside the CLI process: every ES module a resolve hook
 * sees (chunks of the bundle, mapped back to their sources; packages), every CommonJS module
 * in require's cache at exit (pino and koffi are loaded through createRequire, which the hook
 * does not see) and Node's own module list.
 */
function loadedBy(args: readonly string[]): Loaded {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-startup-'));
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(
    hooks,
    `export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('ESM ' + r.url + '\\n'); return r; }`,
  );
  const reg = path.join(dir, 'reg.cjs');
  fs.writeFileSync(
    reg,
    `require('node:module').register(${JSON.stringify(`file://${hooks}`)});
process.on('exit', () => {
  for (const f of Object.keys(require.cache)) process.stderr.write('CJS ' + f + '\\n');
  for (const m of process.moduleLoadList) process.stderr.write('NODE ' + m + '\\n');
});`,
  );
  fs.mkdirSync(path.join(dir, 'registry', 'nvme1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'registry', 'nvme1', 'owner'), 'stas\n');
  fs.writeFileSync(path.join(dir, 'nvme1'), '');
  const r = spawnSync(process.execPath, ['--require', reg, MAIN, ...args], {
    env: {
      PATH: process.env['PATH'],
      NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
      NVMF_DEV_ROOT: dir,
      NVMF_ETC_ROOT: dir,
    },
    encoding: 'utf8',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stderr.split('\n');
  const chunks = chunkSources();
  const sources = new Set<string>();
  const packages = new Set<string>();
  for (const l of lines) {
    let file: string | undefined;
    if (l.startsWith('ESM file://')) file = fileURLToPath(l.slice(4));
    else if (l.startsWith('CJS ')) file = l.slice(4);
    if (file === undefined) continue;
    for (const s of chunks.get(file) ?? []) {
      if (s.startsWith('node_modules/')) packages.add(s);
      else sources.add(s);
    }
    if (file.includes('/node_modules/')) packages.add(file.slice(file.lastIndexOf('/node_modules/') + 1));
  }
  return {
    sources: [...sources],
    packages: [...packages],
    builtins: lines.filter((l) => l.startsWith('NODE NativeModule ')).map((l) => l.slice(18)),
  };
}

describe('start-up of nvmf registry list (the shipped bin)', () => {
  const loaded = loadedBy(['registry', 'list']);

  it('runs the bundle, not the compiled tree', () => {
    expect(MAIN.endsWith(path.join('build', 'cli', 'main.mjs'))).toBe(true);
    expect(loaded.sources).toContain('src/cli/main.ts');
  });

  it('loads the registry and the list command', () => {
    expect(loaded.sources).toContain('src/registry/registry.ts');
    expect(loaded.sources).toContain('plugins/registry/commands/list.ts');
  });

  it('loads no pino, koffi, chokidar, engine, kernel adapter, watcher or udev installer', () => {
    for (const heavy of ['pino/', 'koffi/', 'chokidar/']) {
      expect(
        loaded.packages.filter((m) => m.includes(heavy)),
        heavy,
      ).toEqual([]);
    }
    for (const heavy of ['src/engine/', 'src/kernel/', 'src/watch/', 'src/udev/']) {
      expect(
        loaded.sources.filter((m) => m.startsWith(heavy)),
        heavy,
      ).toEqual([]);
    }
  });

  it('loads no other command implementation', () => {
    const commands = loaded.sources.filter(
      (m) => m.startsWith('src/cli/commands/') || m.startsWith('plugins/registry/commands/'),
    );
    // the registry group declares all its subcommands; no core command module is loaded
    expect(commands.filter((m) => m.startsWith('src/cli/commands/') && !m.endsWith('/index.ts'))).toEqual([]);
    expect(loaded.sources.filter((m) => /^src\/cli\/(connect|discover|disconnect)/.test(m))).toEqual([]);
  });

  it('loads no readline (prompts only)', () => {
    expect(loaded.builtins).not.toContain('readline');
  });

  it('parsing alone loads no child_process (commander requires it only for executable subcommands)', () => {
    const help = loadedBy(['registry', '--help']);
    expect(help.packages.filter((m) => m.includes('commander/'))).not.toEqual([]);
    expect(help.builtins).not.toContain('child_process');
  });
});
