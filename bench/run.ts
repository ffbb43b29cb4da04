import os from 'node:os';
import { connectAllBench } from './connect-all.js';
import { disconnectAllBench } from './disconnect-all.js';
import { hostSnapshotBench } from './host-snapshot.js';
import { BASE, impls } from './impl.js';
import { oneShot } from './oneshot.js';
import { orchestrator } from './orchestrator.js';

/**
 * `npm run bench`: the figures a user feels, each against a baseline measured in the same
 * run. NVMF_BENCH=oneshot,orchestrator,disconnect-all,connect-all,host-snapshot picks parts; NVMF_BENCH_AGAINST=DIR
 * also measures another built checkout, alternated with ours (see impl.ts).
 */
const PARTS: Record<string, (i: Awaited<ReturnType<typeof impls>>) => Promise<string[]>> = {
  oneshot: (i) => oneShot(i, Number(process.env['NVMF_BENCH_RUNS'] ?? 21)),
  orchestrator,
  'disconnect-all': disconnectAllBench,
  'connect-all': connectAllBench,
  'host-snapshot': hostSnapshotBench,
};

const load = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const only = process.env['NVMF_BENCH']?.split(',').filter((x) => x !== '');
  const builds = await impls();
  console.log(`load average at start: ${load()} (${os.cpus().length} cores); sim state on ${BASE.fs}`);
  for (const b of builds.slice(1)) console.log(`${b.label}: ${b.repo}`);
  for (const [name, part] of Object.entries(PARTS)) {
    if (only !== undefined && only.length > 0 && !only.includes(name)) continue;
    for (const line of await part(builds)) console.log(line);
    console.log(`load average: ${load()}`);
  }
}

await main();
