import {
  type DiscoveryLogEntry,
  discoveryEntry,
  encodeDiscoveryLog,
  SUBTYPE,
} from '../../engine/discovery-log.js';
import { DISCOVERY_NQN } from '../sysfs.js';
import { defaultTrsvcid, type SimPort, type SimTargets, samePort } from './targets.js';

/**
 * The discovery log a simulated discovery controller at `at` serves: the configured entries
 * (or, like nvmet, every subsystem port of the same transport), then referrals.
 */
export function simDiscoveryEntries(
  t: SimTargets,
  at: SimPort,
): { genctr: number; entries: DiscoveryLogEntry[] } {
  const d = t.discovery.find((x) => samePort(x, at));
  const entries: DiscoveryLogEntry[] = [];
  const addr = (p: SimPort) => ({
    transport: p.transport,
    traddr: p.traddr ?? '',
    trsvcid: p.trsvcid ?? defaultTrsvcid(p.transport) ?? '',
  });
  if (d?.entries) {
    for (const e of d.entries) {
      const subtype =
        e.subtype === 'referral'
          ? SUBTYPE.referral
          : e.subtype === 'current'
            ? SUBTYPE.currentDiscovery
            : SUBTYPE.nvm;
      entries.push(
        discoveryEntry({
          ...addr(e),
          subnqn: e.subnqn,
          subtype,
          ...(e.portid !== undefined ? { portid: e.portid } : {}),
          ...(e.treq !== undefined ? { treq: e.treq } : {}),
        }),
      );
    }
  } else {
    let portid = 1;
    for (const s of t.subsystems) {
      for (const p of s.ports) {
        if (p.transport !== at.transport) continue;
        entries.push(discoveryEntry({ ...addr(p), subnqn: s.nqn, subtype: SUBTYPE.nvm, portid: portid++ }));
      }
    }
  }
  for (const r of d?.referrals ?? []) {
    entries.push(discoveryEntry({ ...addr(r), subnqn: DISCOVERY_NQN, subtype: SUBTYPE.referral }));
  }
  return { genctr: d?.genctr ?? 1, entries };
}

export function simDiscoveryLog(t: SimTargets, at: SimPort): Uint8Array {
  const { genctr, entries } = simDiscoveryEntries(t, at);
  return encodeDiscoveryLog({ genctr: BigInt(genctr), entries });
}
