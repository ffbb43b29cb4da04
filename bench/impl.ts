import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as DisconnectModule from '../src/engine/disconnect.js';
import type * as DiscoverModule from '../src/engine/discover.js';
import type * as OptionsModule from '../src/engine/options.js';
import type * as PoolModule from '../src/engine/pool.js';
import type * as SimModule from '../src/kernel/sim.js';
import type * as RegistryModule from '../src/registry/registry.js';

/** This checkout: build/bench/impl.js -> the repository. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * One build of the project, loaded from its build/ directory: ours, or one named by
 * NVMF_BENCH_AGAINST (another checkout, built), which every figure then also measures in the
 * same run, alternated with ours. That is how an optimisation is judged: the figure with it
 * (one build) and without it (the other), side by side under the same load.
 */
export interface Impl {
  label: string;
  repo: string;
  /** The package's bin, as package.json names it. */
  bin: string;
  Registry: typeof RegistryModule.Registry;
  sim: typeof SimModule;
  disconnectAll: typeof DisconnectModule.disconnectAll;
  connectAll: typeof DiscoverModule.connectAll;
  planFromHost: typeof DisconnectModule.planFromHost;
  buildOptionString: typeof OptionsModule.buildOptionString;
  parseConnectOptions: typeof OptionsModule.parseConnectOptions;
  mapPool: typeof PoolModule.mapPool;
}

async function load(label: string, repo: string): Promise<Impl> {
  const mod = <T>(rel: string): Promise<T> =>
    import(pathToFileURL(path.join(repo, 'build', 'src', rel)).href) as Promise<T>;
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
    bin: { nvmf: string };
  };
  const options = await mod<typeof OptionsModule>('engine/options.js');
  const disconnect = await mod<typeof DisconnectModule>('engine/disconnect.js');
  return {
    label,
    repo,
    bin: path.join(repo, pkg.bin.nvmf),
    Registry: (await mod<typeof RegistryModule>('registry/registry.js')).Registry,
    sim: await mod<typeof SimModule>('kernel/sim.js'),
    disconnectAll: disconnect.disconnectAll,
    connectAll: (await mod<typeof DiscoverModule>('engine/discover.js')).connectAll,
    planFromHost: disconnect.planFromHost,
    buildOptionString: options.buildOptionString,
    parseConnectOptions: options.parseConnectOptions,
    mapPool: (await mod<typeof PoolModule>('engine/pool.js')).mapPool,
  };
}

/** Ours, then the builds to compare with, when NVMF_BENCH_AGAINST names some (comma-separated). */
export async function impls(): Promise<Impl[]> {
  const out = [await load('ours', REPO)];
  const against = (process.env['NVMF_BENCH_AGAINST'] ?? '').split(',').filter((d) => d !== '');
  for (const [i, dir] of against.entries()) {
    out.push(await load(against.length === 1 ? 'against' : `against ${i + 1}`, path.resolve(dir)));
  }
  return out;
}

/** tmpfs like a real /run and /sys when the host has /dev/shm; the report says which. */
export const BASE = fs.existsSync('/dev/shm')
  ? { dir: '/dev/shm', fs: 'tmpfs /dev/shm' }
  : { dir: os.tmpdir(), fs: `${os.tmpdir()} (no /dev/shm)` };

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

/** What an operation on a bench host is handed: `impl`'s kernel and registry over it. */
export interface BenchContext {
  kernel: InstanceType<typeof SimModule.SimKernel>;
  registry: ReturnType<typeof RegistryModule.Registry.open>;
  audit: { record(): void };
}

/**
 * The wall time of `op` on a fresh simulated host that `build` makes in a directory of its
 * own (opened with `impl`'s kernel and registry); the directory is removed afterwards.
 */
export async function timedOnFreshHost(
  impl: Impl,
  build: (dir: string) => Promise<void>,
  op: (ctx: BenchContext) => Promise<void>,
): Promise<number> {
  const dir = fs.mkdtempSync(path.join(BASE.dir, 'nvmf-bench-fresh-'));
  try {
    await build(dir);
    const kernel = new impl.sim.SimKernel({ dir });
    try {
      const audit = { record() {} };
      const registry = impl.Registry.open({ roots: kernel.roots, audit, host: kernel });
      const t0 = performance.now();
      await op({ kernel, registry, audit });
      return performance.now() - t0;
    } finally {
      kernel.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `runs` rounds of `once` for every build, the order alternated round by round so each sees the same load. */
export async function alternated(
  impls: readonly Impl[],
  runs: number,
  once: (impl: Impl) => Promise<number>,
): Promise<Map<Impl, number[]>> {
  const times = new Map<Impl, number[]>(impls.map((i) => [i, []]));
  for (let r = 0; r < runs; r++) {
    for (const impl of r % 2 === 0 ? impls : [...impls].reverse()) times.get(impl)!.push(await once(impl));
  }
  return times;
}
