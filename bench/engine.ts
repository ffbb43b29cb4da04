/**
 * Disconnect-all with 10 ms per delete: concurrency 16 against a sequential run
 * (concurrency 1), in the same process; and the pure planning step over 1000 controllers.
 * Targets: concurrent <= 0.1x sequential; planning < 20 ms.
 *
 * Two kernels. `sim`: the simulated kernel, whose every state change is a cross-process
 * transaction on files (tens of ms each on a loaded host, serialised by its lock), so its
 * own cost, not the engine's, bounds the speed-up; it runs BENCH_ENGINE_SIM_CONTROLLERS
 * (default 100) controllers to keep the run short. `latency-only`: an in-memory kernel whose
 * delete costs exactly 10 ms and nothing else, with the real registry, which isolates what
 * the engine (plan, locked re-check, bounded pool) adds; it runs 1000.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuditEvent } from '../src/audit/event.js';
import { disconnectAll, snapshotForDisconnectAll } from '../src/engine/disconnect.js';
import { buildOptionString, parseConnectOptions } from '../src/engine/options.js';
import { planDisconnectAll } from '../src/engine/plan.js';
import { mapPool } from '../src/engine/pool.js';
import type { ControllerInfo, Kernel } from '../src/kernel/port.js';
import { SimKernel, simInit, simRoots } from '../src/kernel/sim.js';
import { Registry } from '../src/registry/registry.js';

const NQN = 'nqn.2024-01.io.example:bench';
const CONTROLLERS = 1000;
const SIM_CONTROLLERS = Number(process.env.BENCH_ENGINE_SIM_CONTROLLERS ?? 1000);
const DELETE_MS = 10;

export interface EngineBenchRun {
  kernel: 'sim' | 'latency-only';
  controllers: number;
  sequentialMs: number;
  concurrentMs: number;
  ratio: number;
  planMs: number;
  snapshotMs: number;
}

export interface EngineBenchReport {
  name: 'engine';
  deleteMs: number;
  concurrency: number;
  runs: EngineBenchRun[];
}

async function populate(kernel: SimKernel, n: number): Promise<void> {
  const opts = buildOptionString(
    parseConnectOptions({
      transport: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '4420',
      nqn: NQN,
      duplicate_connect: true,
    }),
    null,
  ).value;
  const r = await mapPool(Array.from({ length: n }), 8, () => kernel.connect(opts));
  const bad = r.find((x) => !x.ok);
  if (bad !== undefined && !bad.ok) throw bad.error;
}

/** One real controller as the sim's sysfs shows it, cloned into the in-memory kernel. */
async function templateController(sim: SimKernel): Promise<ControllerInfo> {
  await populate(sim, 1);
  const [c] = await sim.listControllers();
  if (c === undefined) throw new Error('sim made no controller');
  await sim.deleteController(c.device);
  return c;
}

/** tmpfs like a real /run and /sys when the host has /dev/shm; the figures say which. */
export const SIM_BASE = fs.existsSync('/dev/shm')
  ? { dir: '/dev/shm', fs: 'tmpfs /dev/shm' }
  : { dir: os.tmpdir(), fs: `${os.tmpdir()} (no /dev/shm)` };

async function host(): Promise<{ dir: string; kernel: SimKernel; registry: Registry }> {
  const dir = fs.mkdtempSync(path.join(SIM_BASE.dir, 'nvmf-bench-engine-'));
  await simInit(dir, {
    targets: {
      subsystems: [
        { nqn: NQN, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 0 },
      ],
      discovery: [],
    },
    config: {
      latency: { connectMs: 0, deleteMs: DELETE_MS },
      udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} },
    },
  });
  const kernel = new SimKernel({ dir });
  const registry = Registry.open({
    roots: simRoots(dir),
    audit: { record: () => {} },
    host: kernel,
  });
  return { dir, kernel, registry };
}

/** An in-memory kernel: controllers in a Map, a delete costs DELETE_MS and nothing else. */
function latencyOnlyKernel(base: Kernel, controllers: ControllerInfo[]): Kernel {
  const live = new Map(controllers.map((c) => [c.device, c]));
  return {
    ...base,
    kind: base.kind,
    connect: base.connect.bind(base),
    supportedOptions: base.supportedOptions.bind(base),
    namespaces: async () => [],
    blockDeviceExists: () => false,
    discoveryLogPage: base.discoveryLogPage.bind(base),
    ueventSeqnum: base.ueventSeqnum.bind(base),
    listControllers: async () => [...live.values()],
    controller: async (d) => live.get(d) ?? null,
    deviceNodeExists: (d) => live.has(d),
    deleteController: async (d) => {
      await new Promise((r) => setTimeout(r, DELETE_MS));
      live.delete(d);
    },
  };
}

async function timedDisconnectAll(
  concurrency: number,
  kind: 'sim' | 'latency-only',
): Promise<{ ms: number; planMs: number; snapshotMs: number; n: number }> {
  const { dir, kernel: sim, registry } = await host();
  try {
    let kernel: Kernel = sim;
    let n = SIM_CONTROLLERS;
    if (kind === 'latency-only') {
      n = CONTROLLERS;
      const template = await templateController(sim);
      kernel = latencyOnlyKernel(
        sim,
        Array.from({ length: n }, (_, i) => ({
          ...template,
          device: `nvme${i}`,
          instance: i,
          cntlid: i + 1,
        })),
      );
    } else {
      await populate(sim, n);
    }
    const ctx = { kernel, registry, audit: { record: (_e: AuditEvent) => {} } };

    const t0 = performance.now();
    const snap = await snapshotForDisconnectAll(ctx);
    const snapshotMs = performance.now() - t0;
    if (snap.controllers.length !== n)
      throw new Error(`expected ${n} controllers, got ${snap.controllers.length}`);
    // planning is pure: take the median of several runs
    const planTimes: number[] = [];
    for (let i = 0; i < 15; i++) {
      const p0 = performance.now();
      planDisconnectAll(snap.controllers, snap.entries, snap.intents, {});
      planTimes.push(performance.now() - p0);
    }
    planTimes.sort((a, b) => a - b);

    const s = performance.now();
    const { results } = await disconnectAll(ctx, {}, { concurrency });
    const ms = performance.now() - s;
    const ok = results?.filter((r) => r.ok).length ?? 0;
    if (ok !== n) throw new Error(`disconnected ${ok} of ${n}`);
    return { ms, planMs: planTimes[Math.floor(planTimes.length / 2)] as number, snapshotMs, n };
  } finally {
    sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runKind(kind: 'sim' | 'latency-only'): Promise<EngineBenchRun> {
  const seq = await timedDisconnectAll(1, kind);
  const conc = await timedDisconnectAll(16, kind);
  return {
    kernel: kind,
    controllers: conc.n,
    sequentialMs: Math.round(seq.ms),
    concurrentMs: Math.round(conc.ms),
    ratio: Number((conc.ms / seq.ms).toFixed(3)),
    planMs: Number(conc.planMs.toFixed(2)),
    snapshotMs: Math.round(conc.snapshotMs),
  };
}

export async function benchEngine(): Promise<EngineBenchReport> {
  return {
    name: 'engine',
    deleteMs: DELETE_MS,
    concurrency: 16,
    runs: [await runKind('latency-only'), await runKind('sim')],
  };
}

export function formatEngineReport(r: EngineBenchReport): string {
  const lines = [
    `engine: disconnect-all, ${r.deleteMs} ms per delete, concurrency ${r.concurrency} vs sequential; sim state on ${SIM_BASE.fs}`,
  ];
  for (const x of r.runs) {
    lines.push(
      `  [${x.kernel}] ${x.controllers} controllers: sequential ${x.sequentialMs} ms, concurrent ${x.concurrentMs} ms = ${x.ratio}x (target <= 0.1x: ${x.ratio <= 0.1 ? 'met' : 'NOT met'})`,
      `  [${x.kernel}] planning ${x.controllers} controllers ${x.planMs} ms median (target < 20 ms: ${x.planMs < 20 ? 'met' : 'NOT met'}); snapshot (sysfs + intents + registry) ${x.snapshotMs} ms`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchEngine();
  process.stdout.write(`${formatEngineReport(r)}\n`);
}
