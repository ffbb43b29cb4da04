import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceLoaders } from './create-context.js';

/** The real service creators, each behind a dynamic import so unused ones cost nothing. */
export const serviceLoaders: ServiceLoaders = {
  async kernel(env) {
    // sim.ts loads the linux adapter (and its FFI) only when NVMF_KERNEL is not sim:
    const { kernelFromEnv } = await import('../kernel/sim.js');
    return kernelFromEnv(env);
  },
  async roots(env) {
    // With the sim kernel the roots live in its directory; only the kernel module knows where.
    if ((env['NVMF_KERNEL'] ?? '').startsWith('sim:')) return (await serviceLoaders.kernel(env)).roots;
    const { rootsFromEnv } = await import('../roots.js');
    return rootsFromEnv(env);
  },
  async auditor() {
    const { defaultAuditor } = await import('../audit/default.js');
    return defaultAuditor();
  },
};

/** `version` of our package.json, found by walking up from this file (source or build). */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'nvmf-registry' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}
