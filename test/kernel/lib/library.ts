/**
 * The library as an orchestrator in the guest would use it: the kernel from the environment
 * (linux here), the registry at its default root, the default auditor (journald).
 */
import type * as AuditModule from '../../../src/audit/default.js';
import type * as EngineModule from '../../../src/engine/index.js';
import type * as SimModule from '../../../src/kernel/sim.js';
import type * as RegistryModule from '../../../src/registry/registry.js';
import { requireModule } from './guest.js';

export async function openLibrary() {
  const { kernelFromEnv } = await requireModule<typeof SimModule>('src/kernel/sim.ts', 'kernelFromEnv');
  const { Engine } = await requireModule<typeof EngineModule>('src/engine/index.ts', 'the attach engine');
  const { Registry } = await requireModule<typeof RegistryModule>('src/registry/registry.ts', 'the registry');
  const { defaultAuditor } = await requireModule<typeof AuditModule>('src/audit/default.ts', 'the auditor');
  const { kernel, roots } = await kernelFromEnv({ ...process.env, NVMF_KERNEL: '' });
  if (kernel.kind !== 'linux') throw new Error(`expected the linux adapter, got ${kernel.kind}`);
  const audit = defaultAuditor();
  const registry = Registry.open({ roots, audit, deviceNodeExists: (d) => kernel.deviceNodeExists(d) });
  const engine = new Engine({ kernel, registry, audit });
  return { kernel, roots, registry, engine };
}

export type Library = Awaited<ReturnType<typeof openLibrary>>;
