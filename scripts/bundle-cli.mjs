// Bundles the nvmf CLI into build/cli/:
//   nvmf.cjs             the package's bin: a ~1 KB loader (below)
//   main-<hash>.cjs      every source of the CLI in one CommonJS file, with its linked .map
//   main-<hash>.cache    V8 code cache for it, made by a training run of `nvmf registry list`
//   meta.json            esbuild's metafile (which sources the bundle holds), for the tests
//
// Why this shape (measured with `npm run bench` and CPU time of whole processes, Node 20):
// - Start-up is dominated by loading code. One CommonJS file beats an ES module entry with
//   chunks: the ESM loader's own modules, its per-chunk resolve/link, and the fs/promises +
//   stream stack it pulls in cost more than parsing the whole CLI.
// - esbuild cannot split CommonJS, so modules the CLI imports lazily (engine, kernel
//   adapters, watch, udev install, audit sinks, other commands) become esbuild's `__esm`
//   initialisers inside the one file: compiled lazily, run only when imported. Each source
//   is in the program exactly once (one NvmfError class, one module state).
// - Compiling that file is the largest remaining cost, and Node 20 has no
//   module.enableCompileCache, so the loader compiles it with V8 cached data made at build
//   time (vm.Script#createCachedData after a real run, so the functions that run are in it).
//   V8 rejects cached data from another V8 version or flag set, or of another length, and the
//   loader then compiles normally: a missing, stale, truncated or foreign cache costs time,
//   never behaviour.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const outdir = path.join(root, 'build', 'cli');
const BIN = 'nvmf.cjs';

// commander is parsed on every run, so it goes into the bundle. The other dependencies
// (koffi's native module, chokidar) load only on paths that need
// them and stay ordinary runtime imports from node_modules.
const BUNDLED = new Set(['commander']);
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => !BUNDLED.has(d));

// commander requires node:child_process at load time, only to spawn stand-alone executable
// subcommands, which nvmf does not use. Loading it pulls in net, dgram and the stream stack,
// so commander gets a stand-in that requires the real module on first use.
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

// Two rewrites of our sources for the bundle (the sources themselves stay plain ES modules):
// - `createRequire(import.meta.url)('./x.js')`, how our modules load parts of themselves
//   lazily and synchronously (no module does so now): in the bundle there
//   is no ./x.js beside it, so it becomes a plain require that esbuild resolves at build
//   time; the module is bundled and initialised on that first call. Package names and
//   builtins (koffi, node:crypto) stay runtime requires.
// - `import('pkg')` of a package or builtin (chokidar, which is ES-only, koffi, node:fs):
//   code compiled by vm.Script has no working import() of its own on Node 20 (no callback
//   with cached data, an experimental warning without), so it calls the loader's import(),
//   passed in as `__nvmfImport`. Relative imports are bundled and need neither.
// - `import fs from 'node:fs'` (a default import of a builtin): esbuild's CommonJS interop
//   copies every export of the builtin onto a new object, once per importing module (fs has
//   ~100; measured ~0.2 ms a module, ~1.5 ms of a `registry list`). `require` returns the very
//   object the default import names, so it becomes `const fs = require('node:fs')`.
const LAZY_OWN_REQUIRE = /createRequire\(import\.meta\.url\)\((['"]\.{1,2}\/[^'"]+['"])\)/g;
const PACKAGE_IMPORT = /(?<!typeof\s*)\bimport\((['"][^.'"][^'"]*['"])\)/g;
const BUILTIN_DEFAULT_IMPORT = /^import (\w+) from (['"]node:[\w/]+['"]);$/gm;
const rewriteForBundle = {
  name: 'rewrite-for-bundle',
  setup(b) {
    b.onLoad({ filter: /[\\/](src|plugins)[\\/].*\.ts$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      const out = text
        .replace(LAZY_OWN_REQUIRE, 'require($1)')
        .replace(PACKAGE_IMPORT, '__nvmfImport($1)')
        .replace(BUILTIN_DEFAULT_IMPORT, 'const $1 = require($2);');
      return out === text ? undefined : { contents: out, loader: 'ts' };
    });
  },
};

const TMP_NAME = 'main.cjs';
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile: path.join(outdir, TMP_NAME),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  // Identifiers keep their names (error names and stack traces stay readable); the linked
  // map has the sources (node --enable-source-maps).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // Sources are ES modules that find their files from import.meta.url (package.json, udev/,
  // createRequire). The bundle lives in build/cli like the ESM build did, so walking up
  // finds the same files. A getter: only the few paths that ask pay for pathToFileURL.
  // The version main.ts would otherwise read from package.json on every run.
  define: { 'import.meta.url': '__nvmfImportMeta.url', __NVMF_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    js:
      '"use strict";' +
      "var __nvmfImportMeta={get url(){return require('node:url').pathToFileURL(__filename).href}};",
  },
  plugins: [lazyChildProcessForCommander, rewriteForBundle],
  metafile: true,
  write: false,
  logLevel: 'warning',
});

const jsOut = result.outputFiles.find((f) => f.path.endsWith('.cjs'));
// An import() left in the bundle would fail at run time (see rewriteForBundle).
const leftover = /(?<![\w$.])import\((?!\))/.exec(jsOut.text);
if (leftover) {
  throw new Error(
    `the CLI bundle still calls import(): ${jsOut.text.slice(leftover.index, leftover.index + 60)}`,
  );
}
const mapOut = result.outputFiles.find((f) => f.path.endsWith('.cjs.map'));
// The name carries the content's hash: the loader names exactly one bundle and its cache, so
// a rebuild can never pair new code with an old cache (V8 checks only the source's length).
const hash = crypto.createHash('sha256').update(jsOut.contents).digest('hex').slice(0, 12);
const bundleName = `main-${hash}.cjs`;
// The loader compiles the text inside Node's function wrapper, where a #! line is a syntax
// error: it becomes a comment of the same length, so the map's lines and columns still hold.
const js = jsOut.text
  .replace(/^#!/, '//')
  .replace(`//# sourceMappingURL=${TMP_NAME}.map`, `//# sourceMappingURL=${bundleName}.map`);
const map = JSON.parse(mapOut.text);
map.file = bundleName;

/**
 * The bin. Compiles the bundle as Node's CommonJS loader would (same wrapper, same file
 * name for stack traces), with the code cache when V8 accepts it. `train` is the build's
 * variant: it runs the same compile and, at exit, writes the cache it produced.
 *
 * What V8 checks before using cached data: its magic number, V8 version, V8 flags, the
 * source's length and the payload's length. So another Node, other flags, a truncated, empty
 * or foreign file are all rejected (test/cli/startup-cache.test.ts). It does not checksum
 * the payload in release builds; --verify-snapshot-checksum (on around the compile, via
 * node:v8) would, but measured 3-4 ms of CPU per run, over a tenth of a bare `node -e 0`.
 * The cache is written once, atomically, beside a bundle whose own bytes are equally
 * unchecked, and its name carries the bundle's hash, so it cannot meet other code.
 */
function loaderSource({ train }) {
  return `#!/usr/bin/env node
'use strict';
// nvmf: loads ${bundleName} with its V8 code cache (see scripts/bundle-cli.mjs).
const fs = require('node:fs');
const { Script } = require('node:vm');
const { createRequire } = require('node:module');
const file = __dirname + ${JSON.stringify(`/${bundleName}`)};
${
  train
    ? ''
    : `// Node 20 maps stack traces only for code its own loader compiled: with source maps on,
// let it load the bundle (no code cache then) so stacks name the TypeScript sources.
if (process.sourceMapsEnabled) {
  globalThis.__nvmfImport = (s) => import(s);
  require(file);
  return;
}
`
}const cacheFile = __dirname + ${JSON.stringify(`/main-${hash}.cache`)};
let cachedData;
${train ? '' : 'try { cachedData = fs.readFileSync(cacheFile); } catch {}'}
// Node's CommonJS wrapper, plus the loader's import() for the bundle's import() of packages
const script = new Script(
  '(function (exports, require, module, __filename, __dirname, __nvmfImport) { ' +
    fs.readFileSync(file, 'utf8') +
    '\\n})',
  { filename: file, cachedData },
);
${
  train
    ? `process.on('exit', () => {
  fs.writeFileSync(process.env.NVMF_TRAIN_CACHE_OUT, script.createCachedData());
});`
    : ''
}const mod = { exports: {}, filename: file };
script.runInThisContext()(mod.exports, createRequire(file), mod, file, __dirname, (s) => import(s));
`;
}

// Files are renamed into place, the bin last, and stale files are removed only afterwards,
// so a CLI started while a rebuild runs finds a complete set (old or new).
const fresh = new Set();
function put(name, contents, mode = 0o644) {
  const target = path.join(outdir, name);
  const tmp = `${target}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, contents, { mode });
  fs.renameSync(tmp, target);
  fresh.add(target);
}
fs.mkdirSync(outdir, { recursive: true });
put(bundleName, js);
put(`${bundleName}.map`, JSON.stringify(map));
// Which sources the bundle holds: the start-up test maps what a run initialised back to them.
put('meta.json', JSON.stringify(result.metafile));

// The training run: `nvmf registry list` over a small private registry, the command whose
// start-up the cache is for. The functions it runs are compiled into the cache; others
// compile lazily as without one.
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-train-'));
  try {
    const trainer = path.join(outdir, `.train-${process.pid}.cjs`);
    for (let i = 0; i < 4; i++) {
      fs.mkdirSync(path.join(dir, 'registry', `nvme${i}`), { recursive: true });
      fs.writeFileSync(path.join(dir, 'registry', `nvme${i}`, 'owner'), `owner${i}\n`);
      fs.writeFileSync(path.join(dir, `nvme${i}`), '');
    }
    fs.writeFileSync(trainer, loaderSource({ train: true }));
    const cacheTmp = path.join(dir, 'cache');
    const r = spawnSync(process.execPath, [trainer, 'registry', 'list'], {
      env: {
        PATH: process.env.PATH,
        NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
        NVMF_DEV_ROOT: dir,
        NVMF_ETC_ROOT: dir,
        NVMF_TRAIN_CACHE_OUT: cacheTmp,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    fs.rmSync(trainer, { force: true });
    if (r.status !== 0) throw new Error(`training run of the CLI bundle exited ${r.status}: ${r.stderr}`);
    put(`main-${hash}.cache`, fs.readFileSync(cacheTmp));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

put(BIN, loaderSource({ train: false }), 0o755);

for (const name of fs.readdirSync(outdir)) {
  const file = path.join(outdir, name);
  if (!fresh.has(file)) fs.rmSync(file, { recursive: true, force: true });
}
