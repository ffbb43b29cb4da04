import {
  type DiscoveryLogEntry,
  discoveryEntry,
  encodeDiscoveryLog,
  SUBTYPE,
} from '../../nvme/discovery-log.js';
import { DISCOVERY_NQN } from '../../nvme/nqn.js';
import { defaultTrsvcid, type SimPort, type SimTargets, samePort } from './targets.js';

const addr = (p: SimPort) => ({
  transport: p.transport,
  traddr: p.traddr ?? '',
  trsvcid: p.trsvcid ?? defaultTrsvcid(p.transport) ?? '',
});

/** nvmet numbers its ports; the sim numbers the distinct subsystem ports in targets order from 1. */
function portIds(t: SimTargets): SimPort[] {
  const ports: SimPort[] = [];
  for (const s of t.subsystems)
    for (const p of s.ports) if (!ports.some((q) => samePort(q, p))) ports.push(p);
  return ports;
}

/**
 * The discovery log a simulated discovery controller at `at` (connected with `hostnqn`) serves:
 * - a discovery item with `entries`: exactly those, then its referrals;
 * - a discovery item at a port no subsystem is exported on (a discovery-only service): every
 *   subsystem port of the same transport, then its referrals;
 * - otherwise nvmet 6.1 (docs/kernel-tests.md, measured): a current-discovery entry (SUBTYPE 3,
 *   the discovery NQN) for the port itself, one nvm entry per subsystem exported on this port
 *   whose host list admits `hostnqn`, then the item's referrals (nvmet ports can have them).
 */
export function simDiscoveryEntries(
  t: SimTargets,
  at: SimPort,
  hostnqn?: string,
): { genctr: number; entries: DiscoveryLogEntry[] } {
  const d = t.discovery.find((x) => samePort(x, at));
  const entries: DiscoveryLogEntry[] = [];
  const ids = portIds(t);
  const portid = ids.findIndex((p) => samePort(p, at)) + 1;
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
  } else if (d !== undefined && portid === 0) {
    for (const s of t.subsystems) {
      for (const p of s.ports) {
        if (p.transport !== at.transport) continue;
        const id = ids.findIndex((q) => samePort(q, p)) + 1;
        entries.push(discoveryEntry({ ...addr(p), subnqn: s.nqn, subtype: SUBTYPE.nvm, portid: id }));
      }
    }
  } else {
    entries.push(
      discoveryEntry({ ...addr(at), subnqn: DISCOVERY_NQN, subtype: SUBTYPE.currentDiscovery, portid }),
    );
    for (const s of t.subsystems) {
      if (!s.ports.some((p) => samePort(p, at))) continue;
      if (s.allowedHosts !== undefined && (hostnqn === undefined || !s.allowedHosts.includes(hostnqn)))
        continue;
      entries.push(discoveryEntry({ ...addr(at), subnqn: s.nqn, subtype: SUBTYPE.nvm, portid }));
    }
  }
  for (const r of d?.referrals ?? []) {
    entries.push(discoveryEntry({ ...addr(r), subnqn: DISCOVERY_NQN, subtype: SUBTYPE.referral }));
  }
  return { genctr: d?.genctr ?? 1, entries };
}

export function simDiscoveryLog(t: SimTargets, at: SimPort, hostnqn?: string): Uint8Array {
  const { genctr, entries } = simDiscoveryEntries(t, at, hostnqn);
  return encodeDiscoveryLog({ genctr: BigInt(genctr), entries });
}
