import { canonicalIp } from '../ip.js';
import type { NbftTableRead } from '../kernel/nbft.js';
import { type ObservedTarget, type TargetIdentity, targetMatches } from '../nvme/target.js';
import type { NbftSubsystem, NbftTable } from './decode.js';

/**
 * The boot subsystems the firmware describes, and which controllers serve them. Pure: the
 * tables come from the Kernel port (`nbftTables()`), the controllers from the same snapshot.
 */

/** One NBFT subsystem namespace entry with the table and host identity it belongs to. */
export interface NbftBootEntry {
  /** The table's sysfs name (`NBFT`, `NBFT1`, ...). */
  table: string;
  /** The SSNS descriptor's index in its table. */
  index: number;
  /** `tcp`, or null for a transport type the specification does not define. */
  transport: 'tcp' | null;
  trtype: number;
  traddr: string;
  trsvcid: string | null;
  subsysNqn: string;
  nsid: number;
  hostNqn: string;
  hostId: string | null;
  subsystem: NbftSubsystem;
}

/** What the tables say about boot devices: the entries, and the tables that could not be read. */
export interface NbftBootFacts {
  entries: NbftBootEntry[];
  /** One per table that is unreadable or corrupt: its name and the error message. */
  errors: { table: string; message: string }[];
}

/** The subsystem entries of one decoded table. */
export function bootEntriesOf(table: NbftTable): NbftBootEntry[] {
  return table.subsystems.map((s) => ({
    table: table.name,
    index: s.index,
    transport: s.transport,
    trtype: s.trtype,
    traddr: s.traddr,
    trsvcid: s.trsvcid,
    subsysNqn: s.subsysNqn,
    nsid: s.nsid,
    hostNqn: table.host.hostNqn,
    hostId: table.host.hostId,
    subsystem: s,
  }));
}

/** The boot facts of what `Kernel.nbftTables()` returned. */
export function bootFactsOf(reads: readonly NbftTableRead[]): NbftBootFacts {
  const facts: NbftBootFacts = { entries: [], errors: [] };
  for (const r of reads) {
    if (r.table !== null) facts.entries.push(...bootEntriesOf(r.table));
    else
      facts.errors.push({ table: r.name, message: r.error?.message ?? `NBFT table ${r.name}: unreadable` });
  }
  return facts;
}

/** `tcp 192.0.2.10:4420 nqn...` of an entry, for messages. */
export function bootEntryText(e: NbftBootEntry): string {
  const port = e.trsvcid === null ? '' : `:${e.trsvcid}`;
  return `${e.transport ?? `trtype ${e.trtype}`} ${e.traddr}${port} ${e.subsysNqn}`;
}

/**
 * Whether controller `c` serves boot entry `e`, by target identity (src/nvme/target.ts's
 * `possible` rule): same subsystem NQN and transport, same target address, same port when
 * the table names one. The address is compared as an IP address in any spelling (the table
 * holds bytes; the kernel shows the address as the connect wrote it). The host NQN and the
 * host-side address are not compared: a controller of another host identity on the same
 * path reaches the same boot namespace, and a false match only keeps a controller. An entry
 * of a transport the specification does not define matches on NQN and address alone.
 */
export function nbftServes(e: NbftBootEntry, c: ObservedTarget): boolean {
  if (c.subsysnqn !== e.subsysNqn) return false;
  const canon = (a: string | undefined): string | undefined =>
    a === undefined ? undefined : (canonicalIp(a) ?? a);
  const target: TargetIdentity = {
    transport: (e.transport ?? c.transport) as TargetIdentity['transport'],
    subsysnqn: e.subsysNqn,
    traddr: canonicalIp(e.traddr) ?? e.traddr,
    ...(e.trsvcid !== null ? { trsvcid: e.trsvcid } : {}),
  };
  const address = c.address.traddr === undefined ? {} : { traddr: canon(c.address.traddr) as string };
  const observed: ObservedTarget = {
    transport: c.transport,
    subsysnqn: c.subsysnqn,
    address: {
      ...address,
      ...(c.address.trsvcid !== undefined ? { trsvcid: c.address.trsvcid } : {}),
    },
  };
  // `possible` skips a field either side leaves out; the address is required here, so a
  // controller without one (loop) never serves a boot entry, which always names one.
  return observed.address.traddr !== undefined && targetMatches(target, observed, 'possible');
}

/** The boot entries controller `c` serves (empty: not a boot device by the tables). */
export function bootEntriesServedBy(facts: NbftBootFacts, c: ObservedTarget): NbftBootEntry[] {
  return facts.entries.filter((e) => nbftServes(e, c));
}
