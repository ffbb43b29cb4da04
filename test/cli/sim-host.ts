import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../../src/engine/connect.js';
import { kernelFromEnv, simInit } from '../../src/kernel/sim.js';
import { Registry } from '../../src/registry/registry.js';

export const NQN = (n: number): string => `nqn.2014-08.org.example:vol${n}`;
const ADDR = { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' } as const;

export interface SimHost {
  dir: string;
  env: Record<string, string>;
  /** Fabrics controllers still connected plus the PCIe one, by device name. */
  controllers(): Promise<string[]>;
}

/**
 * A simulated host with one controller per row of DESIGN's disconnect-all table:
 * nvme0 unowned, nvme1 owned by stas (X), nvme2 owned by bob (Y), nvme3 with an unreadable
 * entry (owner file is a symlink), nvme9 a PCIe controller. Built in-process (fast); the
 * CLI under test then runs as a subprocess against the same directory.
 */
export async function tableHost(extraEnv: Record<string, string> = {}): Promise<SimHost> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-sim-'));
  const dir = path.join(base, 'host');
  await simInit(dir, {
    targets: {
      subsystems: [1, 2, 3, 4].map((n) => ({ nqn: NQN(n), ...ADDR, namespaces: 1 })),
      discovery: [{ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '8009' }],
    },
  });
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: base,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(base, 'etc'),
    NVMF_AUDIT_SINK: 'stderr',
    ...extraEnv,
  };
  const { kernel, roots } = await kernelFromEnv({ NVMF_KERNEL: `sim:${dir}` });
  const registry = Registry.open({ roots, audit: { record() {} } });
  const ctx = { kernel, registry, audit: { record() {} } };
  const owners: (string | undefined)[] = [undefined, 'stas', 'bob', 'carol'];
  for (const [i, owner] of owners.entries()) {
    const r = await connect(ctx, { ...ADDR, nqn: NQN(i + 1) }, owner !== undefined ? { owner } : {});
    if (r.device !== `nvme${i}`) throw new Error(`expected nvme${i}, the sim gave ${r.device}`);
  }
  const ownerFile = path.join(roots.registry, 'nvme3', 'owner');
  fs.rmSync(ownerFile);
  fs.symlinkSync('/etc/hostname', ownerFile);
  // A PCIe controller as sysfs shows one: the sim only makes fabrics controllers.
  const pcie = path.join(roots.sysfs, 'class', 'nvme', 'nvme9');
  fs.mkdirSync(pcie, { recursive: true });
  for (const [k, v] of Object.entries({
    transport: 'pcie',
    address: '0000:00:04.0',
    state: 'live',
    subsysnqn: 'nqn.2014.08.org.nvmexpress:8086SSD',
    cntlid: '0',
  })) {
    fs.writeFileSync(path.join(pcie, k), `${v}\n`);
  }
  fs.writeFileSync(path.join(roots.dev, 'nvme9'), '');
  (kernel as { close?: () => void }).close?.();
  return {
    dir,
    env,
    async controllers() {
      const k = await kernelFromEnv({ NVMF_KERNEL: `sim:${dir}` });
      const list = await k.kernel.listControllers();
      (k.kernel as { close?: () => void }).close?.();
      return list.map((c) => c.device);
    },
  };
}
