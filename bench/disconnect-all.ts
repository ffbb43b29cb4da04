import { spawn } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DELETE_MS, simHost } from './host.js';
import { type Impl, ms } from './impl.js';

/**
 * disconnect-all of CONTROLLERS controllers on the simulated kernel, DELETE_MS per delete:
 * concurrency 16 against sequential (concurrency 1), in the same run (target <= 0.1x). Each
 * run reports the event loop's delay (monitorEventLoopDelay), and one more concurrent run is
 * contended: another process holds one controller's registry lock (flock(1), as the udev
 * helper takes it) for HOLD_MS while disconnect-all runs, which must wait for it without
 * stopping the event loop.
 */

const CONTROLLERS = Number(process.env['NVMF_BENCH_CONTROLLERS'] ?? 1000);
const HOLD_MS = 2000;

interface Run {
  ms: number;
  delayMaxMs: number;
  delayP99Ms: number;
}

/** Another process holding `device`'s lock under `root` until HOLD_MS after it said so. */
async function holdLock(root: string, device: string): Promise<Promise<void>> {
  const child = spawn(
    'flock',
    ['-x', path.join(root, `.${device}.flock`), 'sh', '-c', `echo held; sleep ${HOLD_MS / 1000}`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`flock exited ${code}`)))),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => (d.toString().includes('held') ? resolve() : undefined));
    child.on('error', reject);
    exited.catch(reject);
  });
  return exited;
}

async function run(impl: Impl, concurrency: number, contended: boolean): Promise<Run> {
  const host = await simHost(impl, CONTROLLERS, false);
  const kernel = new impl.sim.SimKernel({ dir: host.dir });
  try {
    const roots = impl.sim.simRoots(host.dir);
    const registry = impl.Registry.open({
      roots,
      audit: { record() {} },
      host: kernel,
    });
    const held = contended ? await holdLock(roots.registry, 'nvme0') : null;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const t0 = performance.now();
    const { results } = await impl.disconnectAll(
      { kernel, registry, audit: { record() {} } },
      {},
      { concurrency },
    );
    const took = performance.now() - t0;
    delay.disable();
    await held;
    const ok = results?.filter((r) => r.ok).length ?? 0;
    if (ok !== CONTROLLERS) throw new Error(`${impl.label} disconnected ${ok} of ${CONTROLLERS}`);
    return { ms: took, delayMaxMs: delay.max / 1e6, delayP99Ms: delay.percentile(99) / 1e6 };
  } finally {
    kernel.close();
    host.close();
  }
}

export async function disconnectAllBench(impls: Impl[]): Promise<string[]> {
  const lines = [
    `disconnect-all: ${CONTROLLERS} controllers on the sim, ${DELETE_MS} ms per delete; event loop delay max / p99`,
  ];
  const seq = new Map<Impl, Run>();
  const conc = new Map<Impl, Run>();
  const cont = new Map<Impl, Run>();
  for (const impl of impls) seq.set(impl, await run(impl, 1, false));
  for (const impl of [...impls].reverse()) conc.set(impl, await run(impl, 16, false));
  for (const impl of impls) cont.set(impl, await run(impl, 16, true));
  const delay = (r: Run): string => `delay ${ms(r.delayMaxMs)} / ${ms(r.delayP99Ms)}`;
  for (const impl of impls) {
    const s = seq.get(impl)!;
    const c = conc.get(impl)!;
    const k = cont.get(impl)!;
    const ratio = c.ms / s.ms;
    lines.push(
      `  [${impl.label}] sequential ${ms(s.ms)} (${delay(s)})`,
      `  [${impl.label}] concurrency 16 ${ms(c.ms)} (${delay(c)}) = ${ratio.toFixed(3)}x sequential, target <= 0.1x: ${ratio <= 0.1 ? 'met' : 'NOT met'}`,
      `  [${impl.label}] concurrency 16, one lock held ${HOLD_MS} ms by another process: ${ms(k.ms)} (${delay(k)})`,
    );
  }
  const ours = impls[0]!;
  for (const b of impls.slice(1)) {
    lines.push(
      `  ours/${b.label}: sequential ${(seq.get(ours)!.ms / seq.get(b)!.ms).toFixed(2)}x, concurrency 16 ${(conc.get(ours)!.ms / conc.get(b)!.ms).toFixed(2)}x`,
    );
  }
  return lines;
}
