import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN §2's boundaries, over the TypeScript imports (static, `export ... from` and dynamic
 * `import()`) of every file under src/ and plugins/: each rule lists the imports that break
 * it, so a failure names the file and the specifier.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, d.name);
    if (d.isDirectory()) out.push(...sources(rel));
    else if (d.name.endsWith('.ts') && !d.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

interface Import {
  /** The importing file, relative to the repository root. */
  from: string;
  specifier: string;
  /** The imported file (relative, `.ts`), or null for a package or node: builtin. */
  target: string | null;
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName: specifier }) => ({
    from: file,
    specifier,
    target: specifier.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts')
      : null,
  }));
}

const FILES = [...sources('src'), ...sources('plugins')];
const IMPORTS = FILES.flatMap(importsOf);
const show = (list: Import[]): string[] => list.map((i) => `${i.from} -> ${i.specifier}`);
const under = (p: string | null, dir: string): boolean => p !== null && p.startsWith(`${dir}/`);

/** The package's public entries: what plugins may import of src. */
const PUBLIC_ENTRIES = ['src/index.ts', 'src/cli/plugin-api.ts'];

describe('module boundaries (DESIGN §2)', () => {
  it('reads imports of every source file (the parser sees static, re-export and dynamic imports)', () => {
    expect(FILES).toContain('src/index.ts');
    const main = IMPORTS.filter((i) => i.from === 'src/cli/main.ts').map((i) => i.specifier);
    expect(main).toContain('./plugin-host.js');
    const dynamic = IMPORTS.filter((i) => i.from === 'src/cli/services.ts').map((i) => i.specifier);
    expect(dynamic).toContain('../kernel/sim.js');
  });

  it('nothing under src/kernel imports src/engine or src/registry', () => {
    const bad = IMPORTS.filter(
      (i) =>
        under(i.from, 'src/kernel') && (under(i.target, 'src/engine') || under(i.target, 'src/registry')),
    );
    expect(show(bad)).toEqual([]);
  });

  it('src/nvme (spec facts) imports nothing of ours but errors and the argument checks', () => {
    const bad = IMPORTS.filter(
      (i) =>
        under(i.from, 'src/nvme') &&
        i.target !== null &&
        !under(i.target, 'src/nvme') &&
        i.target !== 'src/errors.ts' &&
        i.target !== 'src/args.ts',
    );
    expect(show(bad)).toEqual([]);
  });

  it('the registry reads no sysfs, /dev or /proc: it is handed HostFacts', () => {
    const registry = FILES.filter((f) => under(f, 'src/registry'));
    const literal = /['"`]\/(sys|dev|proc)(\/|['"`])/;
    const found = registry.filter((f) => literal.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    expect(found).toEqual([]);
    // of the kernel, only the HostFacts type and its Linux implementation
    const kernel = IMPORTS.filter((i) => under(i.from, 'src/registry') && under(i.target, 'src/kernel'));
    expect([...new Set(kernel.map((i) => i.target))].sort()).toEqual([
      'src/kernel/host-facts.ts',
      'src/kernel/port.ts',
    ]);
    const seqnumPath = registry.filter((f) =>
      /ueventSeqnumPath|uevent_seqnum'/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(seqnumPath).toEqual([]);
  });

  it('the engine builds no lock paths and takes no lock itself: it asks the registry', () => {
    const bad = IMPORTS.filter((i) => under(i.from, 'src/engine') && i.target === 'src/registry/lock.ts');
    expect(show(bad)).toEqual([]);
    const text = FILES.filter((f) => under(f, 'src/engine')).filter((f) =>
      /\.flock|lockPath|withDeviceLock/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(text).toEqual([]);
  });

  it('the registry is handed its auditor: it imports no audit singleton', () => {
    const bad = IMPORTS.filter(
      (i) =>
        under(i.from, 'src/registry') && under(i.target, 'src/audit') && i.target !== 'src/audit/event.ts',
    );
    expect(show(bad)).toEqual([]);
  });

  it('nothing in the library imports src/cli or a plugin', () => {
    const bad = IMPORTS.filter(
      (i) =>
        !under(i.from, 'src/cli') &&
        under(i.from, 'src') &&
        (under(i.target, 'src/cli') || under(i.target, 'plugins')),
    );
    expect(show(bad)).toEqual([]);
  });

  it('the CLI core imports no plugin: only its entry names the shipped catalogue', () => {
    const bad = IMPORTS.filter(
      (i) =>
        under(i.from, 'src/cli') &&
        under(i.target, 'plugins') &&
        !(i.from === 'src/cli/main.ts' && i.target === 'plugins/index.ts'),
    );
    expect(show(bad)).toEqual([]);
  });

  it('plugins use only the public entries of src (the package entry and the plugin API)', () => {
    const bad = IMPORTS.filter(
      (i) =>
        under(i.from, 'plugins') && under(i.target, 'src') && !PUBLIC_ENTRIES.includes(i.target as string),
    );
    expect(show(bad)).toEqual([]);
    // and one plugin does not reach into another
    const across = IMPORTS.filter(
      (i) =>
        under(i.from, 'plugins') &&
        under(i.target, 'plugins') &&
        i.from !== 'plugins/index.ts' &&
        i.from.split('/')[1] !== (i.target as string).split('/')[1],
    );
    expect(show(across)).toEqual([]);
  });

  it('the public entries and the package exports agree', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    expect(pkg.exports['.']?.default).toBe('./build/src/index.js');
    expect(pkg.exports['./sim']?.default).toBe('./build/src/sim.js');
    expect(pkg.exports['./plugin']?.default).toBe('./build/src/cli/plugin-api.js');
  });
});
