import fs from 'node:fs';
import path from 'node:path';
import { simHost } from './host.js';
import { type Impl, median, ms } from './impl.js';

/**
 * An orchestrator's poll: a long-lived process holding one Registry and calling list() again
 * and again, here over the 100 entries of a simulated host (and 1000, to show the scale).
 * Baseline in the same run: the floor, the same visible work written by hand (readdir of the
 * root and of each entry, read of each file, readdir of /dev) with no validation and no
 * locking. Rounds alternate between the floor and each build. Each round is timed in wall
 * time and in this process's CPU time (user + sys), which a busy neighbour does not stretch.
 */

const ROUND_LISTS = 20;
const ROUNDS = 21;

function floorList(root: string, dev: string): number {
  const nodes = new Set(fs.readdirSync(dev));
  let live = 0;
  for (const device of fs.readdirSync(root)) {
    if (device.startsWith('.')) continue;
    const dir = path.join(root, device);
    for (const name of fs.readdirSync(dir)) fs.readFileSync(path.join(dir, name), 'utf8');
    if (nodes.has(device)) live++;
  }
  return live;
}

interface Round {
  wall: number;
  cpu: number;
}

/** Wall and CPU ms per list over one round. */
function perList(fn: () => unknown): Round {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUND_LISTS; i++) fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6 / ROUND_LISTS;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / ROUND_LISTS };
}

export async function orchestrator(impls: Impl[]): Promise<string[]> {
  const lines = [
    `orchestrator: list() in a long-lived process, median of ${ROUNDS} rounds of ${ROUND_LISTS}, wall (CPU); ratios on CPU`,
  ];
  for (const n of [100, 1000]) {
    const host = await simHost(impls[0]!, n, true);
    try {
      const roots = impls[0]!.sim.simRoots(host.dir);
      const listers = impls.map((impl) => {
        const reg = impl.Registry.open({ roots, audit: { record() {} } });
        return () => {
          const { live, stale } = reg.list();
          if (live.length + stale.length !== n)
            throw new Error(`${impl.label} listed ${live.length + stale.length}`);
        };
      });
      const floor = (): void => {
        if (floorList(roots.registry, roots.dev) !== n) throw new Error('floor: not every entry live');
      };
      const cases = [floor, ...listers];
      for (const c of cases) perList(c); // warm: compiled code, as in a process that polls
      const times = cases.map(() => [] as Round[]);
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? [...cases.keys()] : [...cases.keys()].reverse();
        for (const i of order) times[i]!.push(perList(cases[i]!));
      }
      const wall = (i: number): number => median(times[i]!.map((r) => r.wall));
      const cpu = (i: number): number => median(times[i]!.map((r) => r.cpu));
      lines.push(`  ${n} entries  floor ${ms(wall(0))} (${ms(cpu(0))})`);
      impls.forEach((impl, i) => {
        const vs = i === 0 ? '' : `  ours/${impl.label} ${(cpu(1) / cpu(i + 1)).toFixed(2)}x`;
        lines.push(
          `  ${n} entries  list() [${impl.label}] ${ms(wall(i + 1))} (${ms(cpu(i + 1))})  ${(cpu(i + 1) / cpu(0)).toFixed(2)}x floor${vs}`,
        );
      });
    } finally {
      host.close();
    }
  }
  return lines;
}
