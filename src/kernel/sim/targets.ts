import fs from 'node:fs';
import { NvmfError } from '../../errors.js';

/**
 * What the simulated fabric serves (docs/sim.md has the JSON format). Validated once, at
 * `simInit`, so a typo in a test's targets file fails loudly instead of becoming ECONNREFUSED.
 */
export interface SimPort {
  transport: string;
  traddr?: string;
  trsvcid?: string;
}

export interface SimSubsystem {
  nqn: string;
  ports: SimPort[];
  /** Number of namespaces (nsid 1..n). */
  namespaces: number;
  /** Partitions on each namespace (a partition table the host's partition scan finds); default 0. */
  partitions?: number;
  /** Host NQNs allowed to connect; absent = any host (nvmet's allow_any_host). */
  allowedHosts?: string[];
}

export interface SimDiscoveryEntry {
  transport: string;
  traddr?: string;
  trsvcid?: string;
  subnqn: string;
  subtype?: 'nvm' | 'referral' | 'current';
  portid?: number;
  treq?: number;
}

export interface SimDiscovery extends SimPort {
  /** Entries served; absent = every subsystem on every port of this transport (nvmet's view). */
  entries?: SimDiscoveryEntry[];
  /** Other discovery services, served as SUBTYPE 1 (referral) entries. */
  referrals?: SimPort[];
  /** Generation counter of this discovery log. */
  genctr?: number;
}

export interface SimTargets {
  subsystems: SimSubsystem[];
  discovery: SimDiscovery[];
}

const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'];

function bad(msg: string, where: string): never {
  throw new NvmfError('EINVALID_VALUE', `sim targets: ${where}: ${msg}`, { where });
}

const PORT_KEYS = ['transport', 'traddr', 'trsvcid'] as const;

/**
 * Refuse a key the format does not have: a misspelt `namespace` or `referral` would otherwise
 * be ignored and the sim would serve something else than the file says.
 */
function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      bad(`unknown key ${JSON.stringify(k)}; the keys here are ${allowed.join(', ')} (docs/sim.md)`, where);
  }
}

function str(v: unknown, where: string, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v === '' || !/^[\x21-\x7e]+$/.test(v))
    bad(`expected a non-empty string, got ${JSON.stringify(v)}`, where);
  return v;
}

/** A port; `keys` are the keys the object may have (null: the caller checks them). */
function port(v: unknown, where: string, keys: readonly string[] | null = PORT_KEYS): SimPort {
  if (typeof v !== 'object' || v === null) bad('expected an object with transport, traddr, trsvcid', where);
  const o = v as Record<string, unknown>;
  if (keys !== null) onlyKeys(o, keys, where);
  const transport = str(o['transport'], `${where}.transport`) as string;
  if (!TRANSPORTS.includes(transport))
    bad(`transport "${transport}" is not one of ${TRANSPORTS.join(', ')}`, where);
  const traddr = str(o['traddr'], `${where}.traddr`, transport === 'loop');
  const trsvcid =
    o['trsvcid'] === undefined
      ? undefined
      : str(typeof o['trsvcid'] === 'number' ? String(o['trsvcid']) : o['trsvcid'], `${where}.trsvcid`);
  return {
    transport,
    ...(traddr !== undefined ? { traddr } : {}),
    ...(trsvcid !== undefined ? { trsvcid } : {}),
  };
}

export function parseTargets(v: unknown): SimTargets {
  if (typeof v !== 'object' || v === null)
    bad('expected an object with "subsystems" and/or "discovery"', 'top level');
  const o = v as Record<string, unknown>;
  onlyKeys(o, ['subsystems', 'discovery'], 'top level');
  const subsRaw = o['subsystems'] ?? [];
  const discRaw = o['discovery'] ?? [];
  if (!Array.isArray(subsRaw)) bad('expected an array', 'subsystems');
  if (!Array.isArray(discRaw)) bad('expected an array', 'discovery');
  const subsystems = subsRaw.map((s: unknown, i: number): SimSubsystem => {
    const w = `subsystems[${i}]`;
    if (typeof s !== 'object' || s === null) bad('expected an object', w);
    const r = s as Record<string, unknown>;
    const own = ['nqn', 'namespaces', 'partitions', 'allowedHosts'];
    // the ports: a list, or the subsystem's own transport/traddr/trsvcid for one port
    onlyKeys(r, r['ports'] !== undefined ? [...own, 'ports'] : [...own, ...PORT_KEYS], w);
    const nqn = str(r['nqn'], `${w}.nqn`) as string;
    const ports = Array.isArray(r['ports'])
      ? r['ports'].map((p: unknown, j: number) => port(p, `${w}.ports[${j}]`))
      : [port(r, w, null)];
    const ns = r['namespaces'] ?? 1;
    if (typeof ns !== 'number' || !Number.isInteger(ns) || ns < 0 || ns > 1024)
      bad('namespaces must be an integer 0..1024', w);
    const parts = r['partitions'] ?? 0;
    if (typeof parts !== 'number' || !Number.isInteger(parts) || parts < 0 || parts > 128)
      bad('partitions must be an integer 0..128', w);
    const hosts = r['allowedHosts'];
    if (hosts !== undefined && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string')))
      bad('allowedHosts must be an array of NQNs', w);
    return {
      nqn,
      ports,
      namespaces: ns,
      ...(parts > 0 ? { partitions: parts } : {}),
      ...(hosts !== undefined ? { allowedHosts: hosts as string[] } : {}),
    };
  });
  const discovery = discRaw.map((d: unknown, i: number): SimDiscovery => {
    const w = `discovery[${i}]`;
    const p = port(d, w, [...PORT_KEYS, 'entries', 'referrals', 'genctr']);
    const r = d as Record<string, unknown>;
    const out: SimDiscovery = { ...p };
    if (r['entries'] !== undefined) {
      if (!Array.isArray(r['entries'])) bad('entries must be an array', w);
      out.entries = r['entries'].map((e: unknown, j: number) => {
        const ew = `${w}.entries[${j}]`;
        const ep = port(e, ew, [...PORT_KEYS, 'subnqn', 'subtype', 'portid', 'treq']);
        const er = e as Record<string, unknown>;
        const subtype = er['subtype'];
        if (subtype !== undefined && subtype !== 'nvm' && subtype !== 'referral' && subtype !== 'current') {
          bad('subtype must be nvm, referral or current', ew);
        }
        return {
          ...ep,
          subnqn: str(er['subnqn'], `${ew}.subnqn`) as string,
          ...(subtype !== undefined ? { subtype: subtype as 'nvm' | 'referral' | 'current' } : {}),
          ...(typeof er['portid'] === 'number' ? { portid: er['portid'] } : {}),
          ...(typeof er['treq'] === 'number' ? { treq: er['treq'] } : {}),
        };
      });
    }
    if (r['referrals'] !== undefined) {
      if (!Array.isArray(r['referrals'])) bad('referrals must be an array', w);
      out.referrals = r['referrals'].map((x: unknown, j: number) => port(x, `${w}.referrals[${j}]`));
    }
    if (r['genctr'] !== undefined) {
      if (typeof r['genctr'] !== 'number' || !Number.isInteger(r['genctr']) || r['genctr'] < 0)
        bad('genctr must be a non-negative integer', w);
      out.genctr = r['genctr'];
    }
    return out;
  });
  return { subsystems, discovery };
}

export function loadTargets(src: string | unknown): SimTargets {
  if (typeof src !== 'string') return parseTargets(src);
  let text: string;
  try {
    text = fs.readFileSync(src, 'utf8');
  } catch (e) {
    throw new NvmfError('EINVALID_VALUE', `cannot read sim targets file ${src}: ${(e as Error).message}`, {
      path: src,
    });
  }
  try {
    return parseTargets(JSON.parse(text));
  } catch (e) {
    if (e instanceof NvmfError) throw e;
    throw new NvmfError(
      'EINVALID_VALUE',
      `sim targets file ${src} is not valid JSON: ${(e as Error).message}`,
      { path: src },
    );
  }
}

/** Default service id when the connect string gives none (nvme-tcp: 8009, nvme-rdma: 4420). */
export function defaultTrsvcid(transport: string): string | undefined {
  if (transport === 'tcp') return '8009';
  if (transport === 'rdma') return '4420';
  return undefined;
}

export function samePort(a: SimPort, b: SimPort): boolean {
  if (a.transport !== b.transport) return false;
  if (a.transport === 'loop') return true;
  return (
    (a.traddr ?? '') === (b.traddr ?? '') &&
    (a.trsvcid ?? defaultTrsvcid(a.transport)) === (b.trsvcid ?? defaultTrsvcid(b.transport))
  );
}
