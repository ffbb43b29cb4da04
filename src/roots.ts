import path from 'node:path';

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
}

export const DEFAULT_ROOTS: Roots = Object.freeze({
  registry: '/run/nvme/registry',
  sysfs: '/sys',
  dev: '/dev',
});

export type Env = Readonly<Record<string, string | undefined>>;

/** Roots from the environment, falling back to `base` (the host defaults unless given). */
export function rootsFromEnv(env: Env = process.env, base: Roots = DEFAULT_ROOTS): Roots {
  const pick = (name: string, fallback: string): string => {
    const v = env[name];
    return v !== undefined && v !== '' ? path.resolve(v) : fallback;
  };
  return {
    registry: pick('NVMF_REGISTRY_ROOT', base.registry),
    sysfs: pick('NVMF_SYSFS_ROOT', base.sysfs),
    dev: pick('NVMF_DEV_ROOT', base.dev),
  };
}

/** `/sys/kernel/uevent_seqnum` under a sysfs root. */
export function ueventSeqnumPath(roots: Pick<Roots, 'sysfs'>): string {
  return path.join(roots.sysfs, 'kernel', 'uevent_seqnum');
}
