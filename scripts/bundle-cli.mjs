// Bundles the nvmf CLI into build/cli/: one ES module entry (the package's bin) plus chunks
// for what is imported lazily (engine, kernel adapters, watch, udev install, audit sinks).
// Start-up is dominated by module loading: tsc's output is ~50 files plus commander's
// CommonJS loaded through the CJS loader; the bundle reads a handful. The library keeps
// tsc's output (build/src) for the package exports and types.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const outdir = path.join(root, 'build', 'cli');

// commander is parsed on every run, so it goes into the bundle. The other dependencies
// (pino, koffi's native module, chokidar, proper-lockfile) load only on paths that need
// them and stay ordinary runtime imports from node_modules.
const BUNDLED = new Set(['commander']);
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => !BUNDLED.has(d));

// commander requires node:child_process at load time, only to spawn stand-alone executable
// subcommands, which nvmf does not use. Loading it pulls in net, dgram and the stream stack
// (measured: the largest single builtin cost of a run), so commander gets a stand-in that
// requires the real module on first use. Same behaviour, paid only if ever called.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    const commanderDir = `${path.sep}node_modules${path.sep}commander${path.sep}`;
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(commanderDir) ? { path: 'child_process', namespace: 'nvmf-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'nvmf-lazy' }, () => ({
      loader: 'js',
      contents: [
        'let real;',
        "const load = () => (real ??= require('node:child_process'));",
        'module.exports = new Proxy({}, { get: (_t, key) => load()[key] });',
      ].join('\n'),
    }));
  },
};

// Our own modules load parts of themselves lazily and synchronously with
// `createRequire(import.meta.url)('./x.js')` (the audit machinery on the first record). In the
// bundle there is no ./x.js beside the chunk, so such a call becomes a plain require that
// esbuild resolves at build time: the module is bundled and initialised on that first call.
// Package names (pino, koffi, proper-lockfile) stay runtime requires from node_modules.
const LAZY_OWN_REQUIRE = /createRequire\(import\.meta\.url\)\((['"]\.{1,2}\/[^'"]+['"])\)/g;
const bundleOwnLazyRequires = {
  name: 'bundle-own-lazy-requires',
  setup(b) {
    b.onLoad({ filter: /[\\/](src|plugins)[\\/].*\.ts$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      if (!LAZY_OWN_REQUIRE.test(text)) return undefined;
      LAZY_OWN_REQUIRE.lastIndex = 0;
      return { contents: text.replace(LAZY_OWN_REQUIRE, 'require($1)'), loader: 'ts' };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  // .mjs: node knows the format from the name, without looking for a package.json scope
  // above every chunk.
  outExtension: { '.js': '.mjs' },
  // Parsing is part of every run: no comments or blanks to scan. Identifiers keep their
  // names (error names and stack traces stay readable); the linked map has the sources.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // commander is CommonJS and calls require() for node builtins; an ES module has none.
  banner: {
    js: "import { createRequire as __nvmfCreateRequire } from 'node:module'; const require = __nvmfCreateRequire(import.meta.url);",
  },
  plugins: [lazyChildProcessForCommander, bundleOwnLazyRequires],
  metafile: true,
  write: false,
  logLevel: 'warning',
});

// Each file is renamed into place and stale chunks are removed only afterwards, so a CLI
// started while a rebuild runs (tests in parallel) never finds a chunk missing.
const fresh = new Set();
for (const f of result.outputFiles) {
  fs.mkdirSync(path.dirname(f.path), { recursive: true });
  const tmp = `${f.path}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, f.contents, { mode: f.path === path.join(outdir, 'main.mjs') ? 0o755 : 0o644 });
  fs.renameSync(tmp, f.path);
  fresh.add(f.path);
}
for (const dir of [outdir, path.join(outdir, 'chunks')]) {
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const file = path.join(dir, name);
    if (/\.mjs(\.map)?$/.test(name) && !fresh.has(file)) fs.rmSync(file, { force: true });
  }
}

// Which sources each chunk holds: the start-up test maps the chunks a run loads back to them.
fs.writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
