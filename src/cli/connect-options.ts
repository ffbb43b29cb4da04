import type { Command } from 'commander';
import type { ConnectInput } from '../engine/options.js';
import { CONNECT_OPTION_SPECS, type OptionName } from '../nvme/options.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { Env } from '../roots.js';
import { hostIdentity } from '../host-identity.js';

/** A command-line option of a connect-like command and the fabrics option it sets. */
export interface CliConnectOption {
  flags: string;
  key: OptionName;
  description: string;
}

/** The flags of the option table (src/nvme/options.ts) that `scope` takes, in table order. */
function cliOptions(scope: 'connect' | 'all'): CliConnectOption[] {
  const out: CliConnectOption[] = [];
  for (const o of CONNECT_OPTION_SPECS) {
    if (o.flags === undefined || o.cli === undefined || (scope === 'all' && o.cli !== 'all')) continue;
    out.push({ flags: o.flags, key: o.name, description: o.description ?? '' });
  }
  return out;
}

/** connect: everything. */
export const CONNECT_OPTIONS: readonly CliConnectOption[] = cliOptions('connect');
/** discover / connect-all: the discovery controller's address and the tuning passed on to every connect. */
export const DISCOVERY_OPTIONS: readonly CliConnectOption[] = cliOptions('all');

/** Commander's camelCase attribute name of an option (`--host-traddr` -> `hostTraddr`). */
export function attributeName(flags: string): string {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1] ?? '';
  return long.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export function addConnectOptions(cmd: Command, options: readonly CliConnectOption[]): void {
  for (const o of options) cmd.option(o.flags, o.description);
}

/** The fabrics input of the parsed command line (values still strings: the engine validates). */
export function connectInputOf(
  opts: Readonly<Record<string, unknown>>,
  options: readonly CliConnectOption[],
): ConnectInput {
  const input: ConnectInput = {};
  for (const o of options) {
    const v = opts[attributeName(o.flags)];
    if (v !== undefined) input[o.key] = v as string | boolean;
  }
  return input;
}

/** `-n/--nqn` for the fabrics key `nqn`, to point a validation error at the flag the user typed. */
export function flagOf(key: string): string | undefined {
  const o = [...CONNECT_OPTIONS, ...DISCOVERY_OPTIONS].find((x) => x.key === key);
  if (o === undefined) return undefined;
  return o.flags
    .split(' ')
    .filter((p) => p.startsWith('-'))
    .map((p) => p.replace(/,$/, ''))
    .join('/');
}

/** Re-throw an engine EINVALID_OPTION with the command-line flag named. */
export function withFlagName(e: unknown): unknown {
  if (isNvmfError(e, 'EINVALID_OPTION') && typeof e.details['option'] === 'string') {
    const flag = flagOf(e.details['option']);
    if (flag !== undefined && !e.message.includes(flag)) {
      return new NvmfError(e.code, `${e.message} (option ${flag})`, { ...e.details }, { cause: e });
    }
  }
  return e;
}

/** Host NQN and host ID from `<etc>/nvme/hostnqn` and `<etc>/nvme/hostid` where the command line gave none. */
export function withHostDefaults(input: ConnectInput, env: Env): ConnectInput {
  const out = { ...input };
  if (out.hostnqn !== undefined && out.hostid !== undefined) return out;
  const ids = hostIdentity(env);
  if (out.hostnqn === undefined && ids.hostnqn !== undefined) out.hostnqn = ids.hostnqn;
  if (out.hostid === undefined && ids.hostid !== undefined) out.hostid = ids.hostid;
  return out;
}
