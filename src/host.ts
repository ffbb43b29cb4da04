import { checkOptions, checkRoots, describe, invalidOption } from './args.js';
import { createAuditor, sinkChain, sinkChainOptionsFromEnv } from './audit/auditor.js';
import { defaultAuditor } from './audit/default.js';
import type { Auditor } from './audit/event.js';
import { checkAuditor, checkKernel } from './engine/context.js';
import { Engine } from './engine/engine.js';
import type { Kernel } from './kernel/port.js';
import { Registry } from './registry/registry.js';
import { type Env, type Roots, rootsFromEnv } from './roots.js';

export interface OpenHostOptions {
  /** Where NVMF_KERNEL, NVMF_*_ROOT and NVMF_AUDIT_* are read; default process.env. */
  env?: Env;
  /**
   * The kernel adapter. Default: from `env` (`NVMF_KERNEL=sim:DIR` = the simulated host in
   * DIR, with its roots; else the real kernel at `roots`).
   */
  kernel?: Kernel;
  /** Explicit roots win over `env`; with the simulated kernel from `env` its own roots are used. */
  roots?: Partial<Roots>;
  /** Where records go; default `defaultAuditor()` (the CLI's sinks, NVMF_AUDIT_SINK). */
  audit?: Auditor;
}

/** One host, wired: its kernel, its registry (handed the kernel's host facts), its auditor and an engine over them. */
export interface Host {
  readonly kernel: Kernel;
  readonly roots: Roots;
  readonly registry: Registry;
  readonly audit: Auditor;
  readonly engine: Engine;
}

/**
 * Open the host the way the CLI does: kernel, registry and audit from `env` or the options.
 * The front door for an orchestrator: `const { engine, registry } = await openHost();`.
 */
export async function openHost(opts: OpenHostOptions = {}): Promise<Host> {
  const what = 'openHost';
  const o = checkOptions(opts, what, ['env', 'kernel', 'roots', 'audit']);
  const env = o.env === undefined ? process.env : checkEnv(o.env, what);
  const given = o.roots === undefined ? {} : checkRoots(o.roots, what);
  const audit =
    o.audit !== undefined
      ? checkAuditor(o.audit, what)
      : o.env === undefined
        ? defaultAuditor()
        : createAuditor({ sinks: sinkChain(sinkChainOptionsFromEnv(env)) });
  let kernel: Kernel;
  let roots: Roots;
  if (o.kernel !== undefined) {
    kernel = checkKernel(o.kernel, what);
    roots = { ...rootsFromEnv(env), ...given };
  } else if (Object.keys(given).length > 0) {
    roots = { ...rootsFromEnv(env), ...given };
    const { LinuxKernel } = await import('./kernel/linux.js');
    kernel = new LinuxKernel({ roots });
  } else {
    // sim.ts loads the linux adapter when NVMF_KERNEL is not sim:
    const { kernelFromEnv } = await import('./kernel/sim.js');
    ({ kernel, roots } = await kernelFromEnv(env));
  }
  const registry = Registry.open({ roots, audit, host: kernel, env: {} });
  return { kernel, roots, registry, audit, engine: new Engine({ kernel, registry, audit }) };
}

/** An environment: an object of strings, copied once. */
function checkEnv(v: unknown, what: string): Env {
  if (typeof v !== 'object' || v === null)
    throw invalidOption(what, `env must be an object, got ${describe(v)}`);
  const out: Record<string, string> = {};
  let keys: string[];
  try {
    keys = Object.keys(v);
  } catch {
    throw invalidOption(what, 'env cannot be read');
  }
  for (const k of keys) {
    let value: unknown;
    try {
      value = (v as Record<string, unknown>)[k];
    } catch {
      throw invalidOption(what, `env.${k} cannot be read`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw invalidOption(what, `env.${k} must be a string, got ${describe(value)}`);
    out[k] = value;
  }
  return out;
}
