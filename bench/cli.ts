import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Start-up cost of `nvmf registry list`: the whole process, measured against bare
 * `node -e 0` in the same run (alternating, so both see the same machine load), in a clean
 * environment (PATH and the roots only: NODE_OPTIONS or NODE_EXTRA_CA_CERTS in the caller's
 * environment would slow both down by different amounts). Target: median ratio <= 1.5.
 *
 * Each run is timed by bash's `time`, which reports the child's CPU time (user + sys, from
 * wait4) as well as its wall time. CPU time is the figure the target is judged on: the
 * machine is shared, and a busy neighbour stretches wall time (waiting for a core) without
 * changing the work a start-up does. Without bash only wall time is measured.
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
  /** Median CPU time (user + sys) of each process; null when bash is not there to measure it. */
  nodeCpuMedianMs: number | null;
  cliCpuMedianMs: number | null;
  /** CPU-time ratio when measured (what the target is judged on), else the wall-time ratio. */
  ratio: number;
  wallRatio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Timing {
  wallMs: number;
  cpuMs: number | null;
}

const BASH = ['/bin/bash', '/usr/bin/bash'].find((b) => fs.existsSync(b));
// bash reports the timed child's real, user and sys seconds with millisecond resolution
const TIMED = 'TIMEFORMAT="%3R %3U %3S"; time "$@" >/dev/null 2>&1';

function timed(args: string[], env: NodeJS.ProcessEnv): Timing {
  if (BASH !== undefined) {
    const r = spawnSync(BASH, ['-c', TIMED, 'bash', process.execPath, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    const m = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr);
    if (r.status === 0 && m !== null) {
      return { wallMs: Number(m[1]) * 1000, cpuMs: (Number(m[2]) + Number(m[3])) * 1000 };
    }
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return { wallMs: ms, cpuMs: null };
}

/** `requested` alternating pairs, at least 21 (a median of fewer moves with one busy moment). */
export function runCliBench(requested = 31): CliBenchResult {
  const runs = Math.max(21, Number.isFinite(requested) ? requested : 31);
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
  const node: Timing[] = [];
  const cli: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(timed(['-e', '0'], env));
    cli.push(timed([MAIN, 'registry', 'list'], env));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const nodeMedianMs = median(node.map((t) => t.wallMs));
  const cliMedianMs = median(cli.map((t) => t.wallMs));
  const cpu = (ts: Timing[]): number | null =>
    ts.every((t) => t.cpuMs !== null) ? median(ts.map((t) => t.cpuMs as number)) : null;
  const nodeCpuMedianMs = cpu(node);
  const cliCpuMedianMs = cpu(cli);
  const wallRatio = cliMedianMs / nodeMedianMs;
  return {
    runs,
    load: [loadBefore, os.loadavg()[0] as number],
    nodeMedianMs,
    cliMedianMs,
    nodeCpuMedianMs,
    cliCpuMedianMs,
    ratio: nodeCpuMedianMs !== null && cliCpuMedianMs !== null ? cliCpuMedianMs / nodeCpuMedianMs : wallRatio,
    wallRatio,
  };
}

export function printCliBench(r: CliBenchResult): void {
  const verdict = r.ratio <= 1.5 ? 'within' : 'OVER';
  const cpu =
    r.nodeCpuMedianMs !== null && r.cliCpuMedianMs !== null
      ? `CPU ${r.cliCpuMedianMs.toFixed(1)} ms vs ${r.nodeCpuMedianMs.toFixed(1)} ms = ${r.ratio.toFixed(2)}x; `
      : 'CPU not measured (no bash); ';
  console.log(
    `cli start-up: nvmf registry list vs node -e 0 (median of ${r.runs}, alternating, clean env; ` +
      `load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)}): ${cpu}` +
      `wall ${r.cliMedianMs.toFixed(1)} ms vs ${r.nodeMedianMs.toFixed(1)} ms = ${r.wallRatio.toFixed(2)}x; ` +
      `${verdict} the 1.5x target (${r.nodeCpuMedianMs !== null ? 'CPU' : 'wall'})`,
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  printCliBench(runCliBench(Number(process.env['NVMF_BENCH_RUNS'] ?? 31)));
}
