import type { Command } from 'commander';
import type { ConnectInput, OptionName } from '../engine/options.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { Env } from '../roots.js';
import { hostIdentity } from '../host-identity.js';

/** A command-line option of a connect-like command and the fabrics option it sets. */
export interface CliConnectOption {
  flags: string;
  key: OptionName;
  description: string;
}

// nvme-cli's spellings, so an operator's habits work.
const TRANSPORT_ID: readonly CliConnectOption[] = [
  { flags: '-t, --transport <trtype>', key: 'transport', description: 'transport: tcp, rdma, fc or loop' },
  { flags: '-a, --traddr <traddr>', key: 'traddr', description: 'target address' },
  { flags: '-s, --trsvcid <trsvcid>', key: 'trsvcid', description: 'target service id (TCP/RDMA port)' },
  { flags: '-w, --host-traddr <traddr>', key: 'host_traddr', description: 'host (source) address' },
  { flags: '-f, --host-iface <iface>', key: 'host_iface', description: 'host network interface (TCP)' },
  { flags: '-q, --hostnqn <nqn>', key: 'hostnqn', description: 'host NQN (default: <etc>/nvme/hostnqn)' },
  { flags: '-I, --hostid <uuid>', key: 'hostid', description: 'host ID (default: <etc>/nvme/hostid)' },
];

const TUNING: readonly CliConnectOption[] = [
  { flags: '-i, --nr-io-queues <n>', key: 'nr_io_queues', description: 'number of I/O queues' },
  { flags: '-W, --nr-write-queues <n>', key: 'nr_write_queues', description: 'number of write queues' },
  { flags: '-P, --nr-poll-queues <n>', key: 'nr_poll_queues', description: 'number of poll queues' },
  { flags: '-Q, --queue-size <n>', key: 'queue_size', description: 'I/O queue size' },
  { flags: '-k, --keep-alive-tmo <s>', key: 'keep_alive_tmo', description: 'keep-alive timeout (seconds)' },
  { flags: '-c, --reconnect-delay <s>', key: 'reconnect_delay', description: 'reconnect delay (seconds)' },
  {
    flags: '-l, --ctrl-loss-tmo <s>',
    key: 'ctrl_loss_tmo',
    description: 'controller loss timeout (seconds, -1 = forever)',
  },
  {
    flags: '-F, --fast-io-fail-tmo <s>',
    key: 'fast_io_fail_tmo',
    description: 'fast I/O fail timeout (seconds, -1 = off)',
  },
  { flags: '-T, --tos <tos>', key: 'tos', description: 'type of service' },
  { flags: '-D, --duplicate-connect', key: 'duplicate_connect', description: 'allow a duplicate connection' },
  { flags: '-d, --disable-sqflow', key: 'disable_sqflow', description: 'disable SQ flow control' },
  { flags: '-g, --hdr-digest', key: 'hdr_digest', description: 'enable TCP header digest' },
  { flags: '-G, --data-digest', key: 'data_digest', description: 'enable TCP data digest' },
  { flags: '-S, --dhchap-secret <secret>', key: 'dhchap_secret', description: 'DH-HMAC-CHAP host secret' },
  {
    flags: '-C, --dhchap-ctrl-secret <secret>',
    key: 'dhchap_ctrl_secret',
    description: 'DH-HMAC-CHAP controller secret',
  },
  { flags: '--tls', key: 'tls', description: 'use TLS (TCP)' },
  { flags: '--tls-key <serial>', key: 'tls_key', description: 'TLS PSK key serial in the kernel keyring' },
  { flags: '--keyring <serial>', key: 'keyring', description: 'keyring serial holding TLS keys' },
  { flags: '--concat', key: 'concat', description: 'secure channel concatenation' },
];

const NQN: CliConnectOption = { flags: '-n, --nqn <nqn>', key: 'nqn', description: 'subsystem NQN' };

/** connect: everything. */
export const CONNECT_OPTIONS: readonly CliConnectOption[] = [
  ...TRANSPORT_ID.slice(0, 5),
  NQN,
  ...TRANSPORT_ID.slice(5),
  ...TUNING,
];
/** discover / connect-all: the discovery controller's address and the tuning passed on to every connect. */
export const DISCOVERY_OPTIONS: readonly CliConnectOption[] = [
  ...TRANSPORT_ID,
  ...TUNING.filter((o) => o.key !== 'disable_sqflow'),
];

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
