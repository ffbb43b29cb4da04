import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeDiscoveryLog } from '../../src/nvme/discovery-log.js';
import {
  type SimConfig,
  SimKernel,
  simHoldDelete,
  simInit,
  simTargetDown,
  simTargetUp,
  simUdevLog,
  simUdevSettle,
} from '../../src/kernel/sim.js';
import type { FactEnv, FactTarget } from './facts.js';

export const TARGET: FactTarget = {
  transport: 'tcp',
  traddr: '127.0.0.1',
  trsvcid: '4420',
  nqn: 'nqn.2024-01.io.nvmf-registry:test',
  nqn0: 'nqn.2024-01.io.nvmf-registry:test0',
  closedTrsvcid: '4999',
  // nvmet serves its discovery subsystem on every port, as on the real kernel's target
  discoveryTrsvcid: '4420',
};

export const TARGETS = {
  subsystems: [
    { nqn: TARGET.nqn, transport: 'tcp', traddr: TARGET.traddr, trsvcid: TARGET.trsvcid, namespaces: 1 },
    { nqn: TARGET.nqn0, transport: 'tcp', traddr: TARGET.traddr, trsvcid: TARGET.trsvcid, namespaces: 0 },
    {
      nqn: 'nqn.2024-01.io.nvmf-registry:private',
      transport: 'tcp',
      traddr: TARGET.traddr,
      trsvcid: TARGET.trsvcid,
      namespaces: 2,
      allowedHosts: ['nqn.2024-01.io.nvmf-registry:host-a'],
    },
  ],
  discovery: [
    {
      transport: 'tcp',
      traddr: TARGET.traddr,
      trsvcid: '8009',
      referrals: [{ transport: 'tcp', traddr: '192.0.2.7', trsvcid: '8009' }],
    },
  ],
};

export function tmpDir(prefix = 'nvmf-sim-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function newSim(
  config: Partial<Omit<SimConfig, 'targets' | 'version'>> = {},
): Promise<{ dir: string; kernel: SimKernel }> {
  const dir = tmpDir();
  await simInit(dir, {
    targets: TARGETS,
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} }, ...config },
  });
  return { dir, kernel: new SimKernel({ dir }) };
}

export function simFactEnv(dir: string, kernel: SimKernel): FactEnv {
  return {
    kernel,
    target: TARGET,
    settle: async () => {
      await simUdevSettle(dir);
    },
    removeEventsSince: async (seqnum) =>
      simUdevLog(dir)
        .filter((r) => r.seqnum > seqnum && r.action === 'remove' && r.subsystem === 'nvme')
        .map((r) => ({ kernel: r.kernel, seqnum: r.seqnum, nodeExisted: r.nodeExisted })),
    changeEventsSince: async (seqnum) =>
      simUdevLog(dir)
        .filter((r) => r.seqnum > seqnum && r.action === 'change')
        .map((r) => ({ subsystem: r.subsystem, kernel: r.kernel, seqnum: r.seqnum })),
    link: {
      down: async (nqn) => {
        await simTargetDown(dir, nqn);
      },
      up: async (nqn) => {
        await simTargetUp(dir, nqn);
      },
    },
    slowDelete: {
      open: async () => TARGET.nqn,
      hold: async (device) => {
        const release = simHoldDelete(dir, device);
        return async () => release();
      },
      close: async () => undefined,
    },
    decodeDiscoveryLog,
  };
}
