import os from 'node:os';
import { printCliBench, runCliBench } from './cli.js';
import { benchEngine, formatEngineReport } from './engine.js';
import { registryBench } from './registry.js';

/** One measured figure. `floor` is the hand-written baseline of the same syscalls, same run. */
export interface BenchResult {
  name: string;
  usPerOp: number;
  floorUsPerOp?: number;
  target?: string;
  met?: boolean;
  /** Printed as is instead of the µs/op line (benches whose figures are not per operation). */
  text?: string;
}

export interface BenchModule {
  name: string;
  run(): BenchResult[] | Promise<BenchResult[]>;
}

const engineBench: BenchModule = {
  name: 'engine',
  async run() {
    const r = await benchEngine();
    const lines = formatEngineReport(r);
    return r.runs.map((x, i) => ({
      name: `disconnect-all [${x.kernel}]`,
      usPerOp: x.concurrentMs * 1000,
      met: x.ratio <= 0.1 && x.planMs < 20,
      ...(i === 0 ? { text: lines } : { text: '' }),
    }));
  },
};

const cliBench: BenchModule = {
  name: 'cli',
  run() {
    const r = runCliBench(Number(process.env['NVMF_BENCH_RUNS'] ?? 30));
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      printCliBench(r);
    } finally {
      console.log = log;
    }
    return [
      { name: 'cli start-up', usPerOp: r.cliMedianMs * 1000, met: r.ratio <= 1.5, text: lines.join('\n') },
    ];
  },
};

/** Every bench `npm run bench` runs; `NVMF_BENCH=registry,engine` picks some. */
export const benches: BenchModule[] = [registryBench, engineBench, cliBench];

export function timeIt(iterations: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(i);
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / iterations;
}

/** Median of `rounds` runs, to damp a shared machine's noise. */
export function median(rounds: number, fn: () => number): number {
  const xs = Array.from({ length: rounds }, fn).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

/**
 * Medians of `rounds` rounds that alternate the floor and ours, so both see the same load
 * on a shared machine (one phase after the other lets a load swing land on one side only).
 */
export function pairedMedians(
  rounds: number,
  floor: () => number,
  ours: () => number,
): { floor: number; ours: number } {
  const f: number[] = [];
  const o: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      f.push(floor());
      o.push(ours());
    } else {
      o.push(ours());
      f.push(floor());
    }
  }
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { floor: mid(f), ours: mid(o) };
}

async function main(): Promise<void> {
  let failed = false;
  const only = process.env['NVMF_BENCH']?.split(',').filter((x) => x !== '');
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`load average at start: ${load()} (${os.cpus().length} cores)`);
  for (const m of benches) {
    if (only !== undefined && only.length > 0 && !only.some((o) => m.name.startsWith(o))) continue;
    console.log(`# ${m.name}`);
    for (const r of await m.run()) {
      if (r.text !== undefined) {
        if (r.met === false) failed = true;
        if (r.text !== '') console.log(r.text);
        continue;
      }
      const ratio = r.floorUsPerOp
        ? ` floor ${r.floorUsPerOp.toFixed(1)} µs  ratio ${(r.usPerOp / r.floorUsPerOp).toFixed(2)}x`
        : '';
      const target = r.target ? `  target ${r.target}: ${r.met ? 'met' : 'MISSED'}` : '';
      if (r.met === false) failed = true;
      console.log(`${r.name.padEnd(28)} ${r.usPerOp.toFixed(1).padStart(9)} µs/op${ratio}${target}`);
    }
  }
  console.log(`load average at end: ${load()}`);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  void main();
}
