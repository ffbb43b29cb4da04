/**
 * Disconnect-all of 1000 controllers on the simulated kernel with 10 ms per delete:
 * concurrency 16 against a sequential run (concurrency 1) of the same plan shape, in the
 * same process; and the pure planning step over 1000 controllers.
 * Targets: concurrent <= 0.1x sequential; planning < 20 ms.
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
import { SimKernel, simInit, simRoots } from '../src/kernel/sim.js';
import { Registry } from '../src/registry/registry.js';

const NQN = 'nqn.2024-01.io.example:bench';
const CONTROLLERS = Number(process.env.BENCH_ENGINE_CONTROLLERS ?? 1000);
const DELETE_MS = 10;

export interface EngineBenchReport {
  name: 'engine';
  controllers: number;
  deleteMs: number;
  sequentialMs: number;
  concurrentMs: number;
  concurrency: number;
  ratio: number;
  planMs: number;
  snapshotMs: number;
  pass: { ratio: boolean; plan: boolean };
}

async function populate(kernel: SimKernel, n: number): Promise<void> {
  const opts = buildOptionString(
    parseConnectOptions({ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN, duplicate_connect: true }),
    null,
  ).value;
  const r = await mapPool(Array.from({ length: n }), 8, () => kernel.connect(opts));
  const bad = r.find((x) => !x.ok);
  if (bad !== undefined && !bad.ok) throw bad.error;
}

async function host(): Promise<{ dir: string; kernel: SimKernel; registry: Registry }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-bench-engine-'));
  await simInit(dir, {
    targets: {
      subsystems: [{ nqn: NQN, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 0 }],
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
    deviceNodeExists: (d) => kernel.deviceNodeExists(d),
    readSeqnum: () => kernel.ueventSeqnum(),
  });
  return { dir, kernel, registry };
}

async function timedDisconnectAll(concurrency: number): Promise<{ ms: number; planMs: number; snapshotMs: number }> {
  const { dir, kernel, registry } = await host();
  try {
    await populate(kernel, CONTROLLERS);
    const ctx = { kernel, registry, audit: { record: (_e: AuditEvent) => {} } };

    const t0 = performance.now();
    const snap = await snapshotForDisconnectAll(ctx);
    const snapshotMs = performance.now() - t0;
    if (snap.controllers.length !== CONTROLLERS) throw new Error(`expected ${CONTROLLERS} controllers, got ${snap.controllers.length}`);
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
    if (ok !== CONTROLLERS) throw new Error(`disconnected ${ok} of ${CONTROLLERS}`);
    return { ms, planMs: planTimes[Math.floor(planTimes.length / 2)] as number, snapshotMs };
  } finally {
    kernel.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchEngine(): Promise<EngineBenchReport> {
  const seq = await timedDisconnectAll(1);
  const conc = await timedDisconnectAll(16);
  const ratio = conc.ms / seq.ms;
  return {
    name: 'engine',
    controllers: CONTROLLERS,
    deleteMs: DELETE_MS,
    sequentialMs: Math.round(seq.ms),
    concurrentMs: Math.round(conc.ms),
    concurrency: 16,
    ratio: Number(ratio.toFixed(3)),
    planMs: Number(conc.planMs.toFixed(2)),
    snapshotMs: Math.round(conc.snapshotMs),
    pass: { ratio: ratio <= 0.1, plan: conc.planMs < 20 },
  };
}

export function formatEngineReport(r: EngineBenchReport): string {
  return [
    `engine: disconnect-all of ${r.controllers} controllers, ${r.deleteMs} ms per delete (sim)`,
    `  sequential ${r.sequentialMs} ms, concurrency ${r.concurrency} ${r.concurrentMs} ms: ${r.ratio}x (target <= 0.1x) ${r.pass.ratio ? 'PASS' : 'FAIL'}`,
    `  planning ${r.controllers} controllers: ${r.planMs} ms median (target < 20 ms) ${r.pass.plan ? 'PASS' : 'FAIL'}; snapshot (sysfs + registry) ${r.snapshotMs} ms`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchEngine();
  process.stdout.write(`${formatEngineReport(r)}\n`);
}
