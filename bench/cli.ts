import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Start-up cost of `nvmf registry list`: the whole process, measured against bare
 * `node -e 0` in the same run (alternating, so both see the same machine load).
 * Target: median ratio <= 1.5.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
// build/bench/cli.js -> the repository, whose package.json names the bin the package ships
const REPO = path.resolve(HERE, '..', '..');
const MAIN = path.join(
  REPO,
  (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: { nvmf: string } }).bin
    .nvmf,
);

export interface CliBenchResult {
  runs: number;
  /** 1-minute load average before and after the runs (the machine is shared). */
  load: [number, number];
  nodeMedianMs: number;
  cliMedianMs: number;
  ratio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function timed(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

export function runCliBench(runs = 30): CliBenchResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-bench-cli-'));
  const registry = path.join(dir, 'registry');
  const dev = path.join(dir, 'dev');
  fs.mkdirSync(dev, { recursive: true });
  for (let i = 0; i < 16; i++) {
    fs.mkdirSync(path.join(registry, `nvme${i}`), { recursive: true });
    fs.writeFileSync(path.join(registry, `nvme${i}`, 'owner'), `owner${i % 3}\n`);
    fs.writeFileSync(path.join(registry, `nvme${i}`, 'seqnum'), `${1000 + i}\n`);
    fs.writeFileSync(path.join(dev, `nvme${i}`), '');
  }
  const env = {
    PATH: process.env['PATH'],
    NVMF_REGISTRY_ROOT: registry,
    NVMF_DEV_ROOT: dev,
    NVMF_ETC_ROOT: dir,
  };
  const loadBefore = os.loadavg()[0] as number;
  // warm the page cache for both
  timed(['-e', '0'], env);
  timed([MAIN, 'registry', 'list'], env);
  const node: number[] = [];
  const cli: number[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(timed(['-e', '0'], env));
    cli.push(timed([MAIN, 'registry', 'list'], env));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const nodeMedianMs = median(node);
  const cliMedianMs = median(cli);
  return {
    runs,
    load: [loadBefore, os.loadavg()[0] as number],
    nodeMedianMs,
    cliMedianMs,
    ratio: cliMedianMs / nodeMedianMs,
  };
}

export function printCliBench(r: CliBenchResult): void {
  const verdict = r.ratio <= 1.5 ? 'within' : 'OVER';
  console.log(
    `cli start-up: nvmf registry list ${r.cliMedianMs.toFixed(1)} ms vs node -e 0 ${r.nodeMedianMs.toFixed(1)} ms ` +
      `(median of ${r.runs}, alternating; load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)}): ` +
      `${r.ratio.toFixed(2)}x, ${verdict} the 1.5x target`,
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  printCliBench(runCliBench(Number(process.env['NVMF_BENCH_RUNS'] ?? 30)));
}
