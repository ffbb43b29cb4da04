import { registryBench } from './registry.js';

/** One measured figure. `floor` is the hand-written baseline of the same syscalls, same run. */
export interface BenchResult {
  name: string;
  usPerOp: number;
  floorUsPerOp?: number;
  target?: string;
  met?: boolean;
}

export interface BenchModule {
  name: string;
  run(): BenchResult[] | Promise<BenchResult[]>;
}

/** Other modules append themselves here (engine, CLI). */
export const benches: BenchModule[] = [registryBench];

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

async function main(): Promise<void> {
  let failed = false;
  for (const m of benches) {
    console.log(`# ${m.name}`);
    for (const r of await m.run()) {
      const ratio = r.floorUsPerOp
        ? ` floor ${r.floorUsPerOp.toFixed(1)} µs  ratio ${(r.usPerOp / r.floorUsPerOp).toFixed(2)}x`
        : '';
      const target = r.target ? `  target ${r.target}: ${r.met ? 'met' : 'MISSED'}` : '';
      if (r.met === false) failed = true;
      console.log(`${r.name.padEnd(28)} ${r.usPerOp.toFixed(1).padStart(9)} µs/op${ratio}${target}`);
    }
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  void main();
}
