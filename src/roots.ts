import path from 'node:path';
import { checkOptionalString, checkOptions, checkRecord, invalidOption } from './args.js';

/**
 * Where the registry, sysfs and device nodes live. The only place the real host paths
 * are written down; everything else takes a `Roots`.
 */
export interface Roots {
  /** Registry root, default `/run/nvme/registry` (`NVMF_REGISTRY_ROOT`). */
  readonly registry: string;
  /** sysfs mount, default `/sys` (`NVMF_SYSFS_ROOT`). */
  readonly sysfs: string;
  /** Device-node directory, default `/dev` (`NVMF_DEV_ROOT`). */
  readonly dev: string;
  /** procfs mount, default `/proc` (`NVMF_PROC_ROOT`): mounts and swap come from there. */
  readonly proc: string;
}

export const DEFAULT_ROOTS: Roots = Object.freeze({
  registry: '/run/nvme/registry',
  sysfs: '/sys',
  dev: '/dev',
  proc: '/proc',
});

export type Env = Readonly<Record<string, string | undefined>>;

/** The environment variables that move the roots. */
export const ENV_KEYS = ['NVMF_REGISTRY_ROOT', 'NVMF_SYSFS_ROOT', 'NVMF_DEV_ROOT', 'NVMF_PROC_ROOT'] as const;

/** Roots from the environment, falling back to `base` (the host defaults unless given). */
export function rootsFromEnv(env: Env = process.env, base: Roots = DEFAULT_ROOTS): Roots {
  const e = checkOptions(env, 'rootsFromEnv env', ENV_KEYS);
  const b = checkOptions(base, 'rootsFromEnv base', ['registry', 'sysfs', 'dev', 'proc']);
  const pick = (name: (typeof ENV_KEYS)[number], key: keyof Roots): string => {
    const v = checkOptionalString(e[name], 'rootsFromEnv', `env.${name}`);
    if (v !== undefined && v !== '') return path.resolve(v);
    // a caller's base written before the proc root existed falls back to the host's /proc
    const fallback =
      checkOptionalString(b[key], 'rootsFromEnv', `base.${key}`) ??
      (key === 'proc' ? DEFAULT_ROOTS.proc : undefined);
    if (fallback === undefined || fallback === '')
      throw invalidOption('rootsFromEnv', `base.${key} must be a path`);
    return fallback;
  };
  return {
    registry: pick('NVMF_REGISTRY_ROOT', 'registry'),
    sysfs: pick('NVMF_SYSFS_ROOT', 'sysfs'),
    dev: pick('NVMF_DEV_ROOT', 'dev'),
    proc: pick('NVMF_PROC_ROOT', 'proc'),
  };
}

/** `/sys/kernel/uevent_seqnum` under a sysfs root. */
export function ueventSeqnumPath(roots: Pick<Roots, 'sysfs'>): string {
  const sysfs = checkOptionalString(
    checkRecord(roots, 'ueventSeqnumPath', ['sysfs']).sysfs,
    'ueventSeqnumPath',
    'sysfs',
  );
  if (sysfs === undefined) throw invalidOption('ueventSeqnumPath', 'roots.sysfs must be a path');
  return path.join(sysfs, 'kernel', 'uevent_seqnum');
}
