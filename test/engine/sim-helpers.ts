import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../../src/audit/event.js';
import type { EngineContext } from '../../src/engine/context.js';
import { type SimInitOptions, SimKernel, simInit, simRoots } from '../../src/kernel/sim.js';
import { Registry } from '../../src/registry/registry.js';

export const NQN_A = 'nqn.2024-01.io.example:sub-a';
export const NQN_B = 'nqn.2024-01.io.example:sub-b';
export const NQN_C = 'nqn.2024-01.io.example:sub-c';

/** Two tcp ports with I/O subsystems, a discovery service on each, the first referring to the second. */
export const TARGETS = {
  subsystems: [
    { nqn: NQN_A, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 2 },
    { nqn: NQN_B, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 0 },
    { nqn: NQN_C, ports: [{ transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420' }], namespaces: 1 },
  ],
  discovery: [
    {
      transport: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '8009',
      entries: [
        { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', subnqn: NQN_A },
        { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', subnqn: NQN_B },
      ],
      referrals: [{ transport: 'tcp', traddr: '10.0.0.2', trsvcid: '8009' }],
    },
    {
      transport: 'tcp',
      traddr: '10.0.0.2',
      trsvcid: '8009',
      entries: [{ transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420', subnqn: NQN_C }],
      // back to the first: a referral loop
      referrals: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '8009' }],
    },
  ],
};

export interface SimHost {
  dir: string;
  kernel: SimKernel;
  registry: Registry;
  events: AuditEvent[];
  ctx: EngineContext;
  close(): void;
}

export async function makeSim(
  config?: SimInitOptions['config'],
  targets: unknown = TARGETS,
): Promise<SimHost> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-engine-'));
  await simInit(dir, {
    targets,
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} }, ...config },
  });
  return openSim(dir);
}

export function openSim(dir: string): SimHost {
  const kernel = new SimKernel({ dir });
  const events: AuditEvent[] = [];
  const auditor = { record: (e: AuditEvent) => void events.push(e) };
  const registry = Registry.open({
    roots: simRoots(dir),
    audit: auditor,
    host: kernel,
  });
  return {
    dir,
    kernel,
    registry,
    events,
    ctx: { kernel, registry, audit: auditor },
    close: () => {
      kernel.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
