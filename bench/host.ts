import fs from 'node:fs';
import path from 'node:path';
import { BASE, type Impl } from './impl.js';

export const NQN = 'nqn.2024-01.io.example:bench';
export const DELETE_MS = 10;

export interface BenchHost {
  dir: string;
  close(): void;
}

/**
 * A simulated host of `n` fabrics controllers (one subsystem, duplicate connects), a delete
 * costing DELETE_MS. With `entries`, each controller also has its registry entry, every
 * third owned (what `registry list` and `list -v` show). Built with `impl`'s own sim and
 * registry; the state on disk is what every build reads.
 */
export async function simHost(impl: Impl, n: number, entries: boolean): Promise<BenchHost> {
  const dir = fs.mkdtempSync(path.join(BASE.dir, 'nvmf-bench-'));
  await impl.sim.simInit(dir, {
    targets: {
      subsystems: [
        { nqn: NQN, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 0 },
      ],
      discovery: [],
    },
    config: {
      latency: { connectMs: 0, deleteMs: DELETE_MS },
      udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} },
    },
  });
  const kernel = new impl.sim.SimKernel({ dir });
  try {
    const opts = impl.buildOptionString(
      impl.parseConnectOptions({
        transport: 'tcp',
        traddr: '10.0.0.1',
        trsvcid: '4420',
        nqn: NQN,
        duplicate_connect: true,
      }),
      null,
    ).value;
    const made = await impl.mapPool(Array.from({ length: n }), 8, () => kernel.connect(opts));
    for (const r of made) if (!r.ok) throw r.error;
    if (entries) {
      const registry = impl.Registry.open({
        roots: impl.sim.simRoots(dir),
        audit: { record() {} },
        host: kernel,
      });
      for (const [i, c] of (await kernel.listControllers()).entries()) {
        registry.create(c.device, { owner: i % 3 === 0 ? `owner${i % 7}` : null, seqnum: 1000 + i });
      }
    }
  } finally {
    kernel.close();
  }
  return { dir, close: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
