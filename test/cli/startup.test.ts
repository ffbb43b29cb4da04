import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAIN } from './helpers.js';

interface Loaded {
  /** Source files (repository-relative, e.g. `src/registry/registry.ts`) whose code ran. */
  sources: string[];
  /**
   * Files loaded from node_modules (`commander/lib/command.js`): bundled ones that ran, and
   * external ones required or imported.
   */
  packages: string[];
  /** Node's own modules (process.moduleLoadList). */
  builtins: string[];
}

const BUNDLE_DIR = path.dirname(MAIN);

/** `pkg/path/in/it.js` for a file under a node_modules directory, else null. */
function packageFile(file: string): string | null {
  const parts = file.split(/[\\/]/);
  const i = parts.lastIndexOf('node_modules');
  return i < 0 ? null : parts.slice(i + 1).join('/');
}

/** The sources the bundle holds (esbuild's metafile, written beside it). */
function bundledInputs(): string[] {
  const meta = JSON.parse(fs.readFileSync(path.join(BUNDLE_DIR, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  return Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
}

interface V8Coverage {
  result: { url: string; functions: { functionName: string; ranges: { count: number }[] }[] }[];
}

/**
 * What `nvmf ARGS` loads, recorded inside the CLI process. The bundle is one file: a source
 * imported lazily is an esbuild initialiser function named by its path, which V8's coverage
 * reports as run or not; a source without one is top-level code and always runs. Packages
 * outside the bundle are seen by an ES module resolve hook and in require's cache at exit;
 * builtins in process.moduleLoadList.
 */
function loadedBy(args: readonly string[], esmHook = true): Loaded {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-startup-'));
  // Everything is recorded into a file, not on stderr: writing to process.stderr would itself
  // create the stream (and load net for a pipe) that the CLI is checked not to create.
  const report = path.join(dir, 'report');
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(report)}, 'ESM ' + r.url + '\\n'); return r; }`,
  );
  const reg = path.join(dir, 'reg.cjs');
  fs.writeFileSync(
    reg,
    `${esmHook ? `require('node:module').register(${JSON.stringify(`file://${hooks}`)});` : ''}
process.on('exit', () => {
  const out = [...process.moduleLoadList.map((m) => 'NODE ' + m), ...Object.keys(require.cache).map((f) => 'CJS ' + f)];
  require('node:fs').appendFileSync(${JSON.stringify(report)}, out.join('\\n') + '\\n');
});`,
  );
  fs.mkdirSync(path.join(dir, 'registry', 'nvme1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'registry', 'nvme1', 'owner'), 'stas\n');
  fs.writeFileSync(path.join(dir, 'nvme1'), '');
  const coverage = path.join(dir, 'coverage');
  const r = spawnSync(process.execPath, ['--require', reg, MAIN, ...args], {
    env: {
      PATH: process.env['PATH'],
      NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
      NVMF_DEV_ROOT: dir,
      NVMF_ETC_ROOT: dir,
      NODE_V8_COVERAGE: coverage,
    },
    encoding: 'utf8',
  });
  const ran = new Map<string, boolean>();
  for (const f of fs.existsSync(coverage) ? fs.readdirSync(coverage) : []) {
    const cov = JSON.parse(fs.readFileSync(path.join(coverage, f), 'utf8')) as V8Coverage;
    for (const script of cov.result) {
      if (!script.url.startsWith('file:') || path.dirname(fileURLToPath(script.url)) !== BUNDLE_DIR) continue;
      for (const fn of script.functions)
        ran.set(fn.functionName, (ran.get(fn.functionName) ?? false) || (fn.ranges[0]?.count ?? 0) > 0);
    }
  }
  const lines = fs.existsSync(report) ? fs.readFileSync(report, 'utf8').split('\n') : [];
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.status, r.stderr).toBe(0);
  expect(ran.size, 'V8 coverage of the bundle').toBeGreaterThan(0);
  expect(
    lines.filter((l) => l.startsWith('NODE ')),
    'the recorded module list',
  ).not.toEqual([]);
  const sources = new Set<string>();
  const packages = new Set<string>();
  for (const input of bundledInputs()) {
    if (ran.has(input) && ran.get(input) !== true) continue;
    // esbuild names a package's files by their real path: `node_modules/...` in a plain
    // install, `../elsewhere/node_modules/...` when node_modules is a symlink
    const pkg = packageFile(input);
    if (pkg !== null) packages.add(pkg);
    else sources.add(input);
  }
  for (const l of lines) {
    let file: string | undefined;
    if (l.startsWith('ESM file://')) file = fileURLToPath(l.slice(4));
    else if (l.startsWith('CJS ')) file = l.slice(4);
    const pkg = file === undefined ? null : packageFile(file);
    if (pkg !== null) packages.add(pkg);
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
    expect(MAIN.endsWith(path.join('build', 'cli', 'nvmf.cjs'))).toBe(true);
    expect(loaded.sources).toContain('src/cli/main.ts');
  });

  it('loads the registry and the list command', () => {
    expect(loaded.sources).toContain('src/registry/registry.ts');
    expect(loaded.sources).toContain('plugins/registry/commands/list.ts');
  });

  it('loads no koffi, chokidar, engine, kernel adapter, watcher or udev installer', () => {
    for (const heavy of ['koffi/', 'chokidar/']) {
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

  it('loads no audit machinery (reads record nothing)', () => {
    expect(loaded.sources.filter((m) => m.startsWith('src/audit/') && m !== 'src/audit/default.ts')).toEqual(
      [],
    );
  });

  it('loads no node:crypto (temp-name salt, writes only), child_process or dgram (logger sink only)', () => {
    for (const m of ['crypto', 'child_process', 'dgram']) expect(loaded.builtins, m).not.toContain(m);
  });

  // stdout and stderr are pipes here: a process.stdout or process.stderr would be a net.Socket.
  // (Without the ES module hook, whose worker thread brings streams of its own.)
  it('creates no process.stdout/stderr stream (output is written to the descriptors)', () => {
    const plain = loadedBy(['registry', 'list'], false);
    expect(plain.sources).toContain('plugins/registry/commands/list.ts');
    for (const m of ['net', 'stream', 'tty']) expect(plain.builtins, m).not.toContain(m);
  });

  it('parsing alone loads no child_process (commander requires it only for executable subcommands)', () => {
    const help = loadedBy(['registry', '--help']);
    expect(help.packages.filter((m) => m.includes('commander/'))).not.toEqual([]);
    expect(help.builtins).not.toContain('child_process');
  });
});
