import fs from 'node:fs';
import path from 'node:path';
import { simHost } from './host.js';
import { type Impl, median, ms } from './impl.js';

/**
 * An orchestrator's poll: a long-lived process holding one Registry and calling list() again
 * and again, here over the 100 entries of a simulated host (and 1000, to show the scale).
 * Baseline in the same run: the floor, the same visible work written by hand (readdir of the
 * root and of each entry, read of each file, readdir of /dev) with no validation and no
 * locking. Rounds alternate between the floor and each build.
 */

const ROUND_LISTS = 20;
const ROUNDS = 15;

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

function perList(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUND_LISTS; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / ROUND_LISTS;
}

export async function orchestrator(impls: Impl[]): Promise<string[]> {
  const lines = [
    `orchestrator: list() in a long-lived process, median of ${ROUNDS} rounds of ${ROUND_LISTS}`,
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
      const times = cases.map(() => [] as number[]);
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? [...cases.keys()] : [...cases.keys()].reverse();
        for (const i of order) times[i]!.push(perList(cases[i]!));
      }
      const f = median(times[0]!);
      lines.push(`  ${n} entries  floor ${ms(f)}`);
      impls.forEach((impl, i) => {
        const t = median(times[i + 1]!);
        const vs = i === 0 ? '' : `  ours/${impl.label} ${(median(times[1]!) / t).toFixed(2)}x`;
        lines.push(`  ${n} entries  list() [${impl.label}] ${ms(t)}  ${(t / f).toFixed(2)}x floor${vs}`);
      });
    } finally {
      host.close();
    }
  }
  return lines;
}
