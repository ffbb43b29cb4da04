/**
 * The library as an orchestrator in the guest would use it: the kernel from the environment
 * (linux here), the registry at its default root, the default auditor (journald). Loaded from
 * build/ (compiled by run.sh before the boot), the JS an installed package would run.
 */
import type * as AuditModule from '../../../src/audit/default.js';
import type * as EngineModule from '../../../src/engine/index.js';
import type * as SimModule from '../../../src/kernel/sim.js';
import type * as RegistryModule from '../../../src/registry/registry.js';
import { requireModule } from './guest.js';

export async function openLibrary() {
  const { kernelFromEnv } = await requireModule<typeof SimModule>('build/src/kernel/sim.js', 'kernelFromEnv');
  const { Engine } = await requireModule<typeof EngineModule>(
    'build/src/engine/index.js',
    'the attach engine',
  );
  const { Registry } = await requireModule<typeof RegistryModule>(
    'build/src/registry/registry.js',
    'the registry',
  );
  const { defaultAuditor } = await requireModule<typeof AuditModule>(
    'build/src/audit/default.js',
    'the auditor',
  );
  const { kernel, roots } = await kernelFromEnv({ ...process.env, NVMF_KERNEL: '' });
  if (kernel.kind !== 'linux') throw new Error(`expected the linux adapter, got ${kernel.kind}`);
  const audit = defaultAuditor();
  const registry = Registry.open({ roots, audit, host: kernel });
  const engine = new Engine({ kernel, registry, audit });
  return { kernel, roots, registry, engine };
}

export type Library = Awaited<ReturnType<typeof openLibrary>>;
