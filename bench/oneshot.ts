import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { simHost } from './host.js';
import { type Impl, median, ms } from './impl.js';

/**
 * One-shot commands, `nvmf registry list` and `nvmf list -v`, on simulated hosts of 10 and
 * 1000 controllers, each a whole process, against bare `node -e 0` in the same run
 * (alternating, so all see the same load), in a clean environment (PATH and the sim only:
 * NODE_OPTIONS in the caller's environment would slow them by different amounts).
 *
 * Each run is timed by bash's `time`: wall time, what a user waits for, and the child's CPU
 * time (user + sys, from wait4), which a busy neighbour does not stretch. Without bash only
 * wall time is measured.
 */

interface Timing {
  wallMs: number;
  cpuMs: number | null;
}

const BASH = ['/bin/bash', '/usr/bin/bash'].find((b) => fs.existsSync(b));
// bash reports the timed child's real, user and sys seconds with millisecond resolution
const TIMED = 'TIMEFORMAT="%3R %3U %3S"; time "$@" >/dev/null 2>/dev/null';

function timed(args: string[], env: NodeJS.ProcessEnv): Timing {
  if (BASH !== undefined) {
    const r = spawnSync(BASH, ['-c', `${TIMED}; s=$?; exit $s`, 'bash', process.execPath, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    const m = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    if (m !== null) return { wallMs: Number(m[1]) * 1000, cpuMs: (Number(m[2]) + Number(m[3])) * 1000 };
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return { wallMs, cpuMs: null };
}

function summary(ts: Timing[]): { wall: number; cpu: number | null } {
  return {
    wall: median(ts.map((t) => t.wallMs)),
    cpu: ts.every((t) => t.cpuMs !== null) ? median(ts.map((t) => t.cpuMs!)) : null,
  };
}

const COMMANDS = [
  ['registry', 'list'],
  ['list', '-v'],
] as const;

export async function oneShot(impls: Impl[], runs: number): Promise<string[]> {
  const lines = [
    `one-shot commands: median of ${runs} alternating runs each, wall (CPU); ratio to node -e 0 on wall`,
  ];
  for (const n of [10, 1000]) {
    const host = await simHost(impls[0]!, n, true);
    try {
      const env = { PATH: process.env['PATH'], NVMF_KERNEL: `sim:${host.dir}`, NVMF_PLUGINS: 'registry' };
      const cases = [
        { name: 'node -e 0', impl: null, args: ['-e', '0'] },
        ...COMMANDS.flatMap((cmd) =>
          impls.map((impl) => ({ name: `nvmf ${cmd.join(' ')}`, impl, args: [impl.bin, ...cmd] })),
        ),
      ];
      for (const c of cases) timed(c.args, env); // page cache, and a command that fails fails here
      const times = cases.map(() => [] as Timing[]);
      for (let r = 0; r < runs; r++) {
        const order = r % 2 === 0 ? cases.keys() : [...cases.keys()].reverse();
        for (const i of order) times[i]!.push(timed(cases[i]!.args, env));
      }
      const node = summary(times[0]!);
      cases.forEach((c, i) => {
        const s = summary(times[i]!);
        const cpu = s.cpu === null ? '' : ` (${ms(s.cpu)})`;
        const who = c.impl === null ? '' : ` [${c.impl.label}]`;
        const ratio = c.impl === null ? '' : `  ${(s.wall / node.wall).toFixed(2)}x node`;
        let vs = '';
        if (c.impl !== null && c.impl.label !== 'ours') {
          const ours = summary(times[cases.findIndex((o) => o.name === c.name && o.impl?.label === 'ours')]!);
          vs = `  ours/against ${(ours.wall / s.wall).toFixed(2)}x wall, ${ours.cpu !== null && s.cpu !== null ? (ours.cpu / s.cpu).toFixed(2) : '-'}x CPU`;
        }
        lines.push(
          `  ${n} controllers  ${`${c.name}${who}`.padEnd(36)} ${ms(s.wall).padStart(9)}${cpu}${ratio}${vs}`,
        );
      });
    } finally {
      host.close();
    }
  }
  return lines;
}
