import { alternated, type Impl, ms, timedOnFreshHost } from './impl.js';

/**
 * connect-all at scale: one discovery log page that lists SUBSYSTEMS subsystems, each
 * connected with an owner, on the simulated kernel with no connect latency, so what is timed
 * is the work around the kernel's (ours and the sim's own bookkeeping). Each connect looks
 * for a controller of its target it could reuse, which costs a read per controller already
 * there. A fresh host per run; builds alternated, RUNS each.
 */
const SUBSYSTEMS = Number(process.env['NVMF_BENCH_SUBSYSTEMS'] ?? 1000);
const RUNS = 2;
const nqn = (i: number): string => `nqn.2024-01.io.example:many${i}`;

async function build(dir: string, impl: Impl): Promise<void> {
  const port = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' };
  await impl.sim.simInit(dir, {
    targets: {
      subsystems: Array.from({ length: SUBSYSTEMS }, (_, i) => ({
        nqn: nqn(i),
        ports: [port],
        namespaces: 0,
      })),
      discovery: [
        {
          transport: 'tcp',
          traddr: '10.0.0.1',
          trsvcid: '8009',
          entries: Array.from({ length: SUBSYSTEMS }, (_, i) => ({
            ...port,
            subnqn: nqn(i),
            subtype: 'nvm',
            portid: 1,
          })),
        },
      ],
    },
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} } },
  });
}

export async function connectAllBench(impls: Impl[]): Promise<string[]> {
  const times = await alternated(impls, RUNS, (impl) =>
    timedOnFreshHost(
      impl,
      (dir) => build(dir, impl),
      async (ctx) => {
        const r = await impl.connectAll(
          ctx,
          { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '8009' },
          { owner: 'bench' },
        );
        const ok = r.results.filter((x) => x.ok).length;
        if (ok !== SUBSYSTEMS) throw new Error(`${impl.label} connected ${ok} of ${SUBSYSTEMS}`);
      },
    ),
  );
  return [
    `connect-all: ${SUBSYSTEMS} subsystems from one discovery log page, each connected with an owner, on the sim (no connect latency), a fresh host each run`,
    ...impls.map((i) => `  ${i.label}: ${times.get(i)!.map(ms).join(', ')}`),
  ];
}
