import fs from 'node:fs';
import path from 'node:path';
import { checkOptions, checkOptionalString } from './args.js';
import { errnoOf, NvmfError } from './errors.js';
import type { Env } from './roots.js';

/** Where nvme-cli and libnvme keep the host's identity: `<etc>/nvme/hostnqn` and `<etc>/nvme/hostid`. */
export const DEFAULT_ETC_ROOT = '/etc';

/** The host NQN and host ID a connect uses when it names none; absent files give undefined. */
export interface HostIdentity {
  hostnqn?: string;
  hostid?: string;
}

/** `NVMF_ETC_ROOT`, else `/etc`. */
export function etcRoot(env: Env = process.env): string {
  const v = checkOptionalString(
    checkOptions(env, 'etcRoot env', ['NVMF_ETC_ROOT']).NVMF_ETC_ROOT,
    'etcRoot',
    'env.NVMF_ETC_ROOT',
  );
  return v !== undefined && v !== '' ? path.resolve(v) : DEFAULT_ETC_ROOT;
}

function readIdFile(file: string): string | undefined {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    return v === '' ? undefined : v;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw new NvmfError(
      'EIO',
      `cannot read ${file} (${errnoOf(e) ?? String(e)}); fix it or pass the value on the command line`,
      { file },
    );
  }
}

/**
 * The host defaults nvme-cli uses: the host NQN from `<etc>/nvme/hostnqn` and the host ID
 * from `<etc>/nvme/hostid` (`<etc>` = `NVMF_ETC_ROOT` of `env`, else `/etc`). A missing file
 * is no default; an unreadable one is EIO. Spread it under a connect's own input:
 * `engine.connect({ ...hostIdentity(), ...target })`.
 */
export function hostIdentity(env: Env = process.env): HostIdentity {
  const dir = path.join(etcRoot(env), 'nvme');
  const out: HostIdentity = {};
  const hostnqn = readIdFile(path.join(dir, 'hostnqn'));
  if (hostnqn !== undefined) out.hostnqn = hostnqn;
  const hostid = readIdFile(path.join(dir, 'hostid'));
  if (hostid !== undefined) out.hostid = hostid;
  return out;
}
