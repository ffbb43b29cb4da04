import type { HostSnapshot } from '../kernel/block.js';
import type { PlanItem } from './plan.js';

/**
 * The in-use guard (DESIGN §4a, §5), pure: a host snapshot in, facts out. A controller is in
 * use when deleting it, together with every controller already going, would leave a
 * namespace disk without a live path while the disk, one of its partitions, or a holder
 * above them (dm, md, LVM; followed recursively) is mounted (the root filesystem included)
 * or active swap. A path counts while its controller is `live`; one that is connecting or
 * resetting might never come back, so it does not keep a used disk safe. Facts that could not
 * be read make every controller in use: unknown is never "free".
 */

/** Why a controller is in use: one use of one device, or a fact that could not be read. */
export interface InUseFact {
  /** The namespace disk that would lose its last live path (`nvme1n1`); absent for `unknown`. */
  disk?: string;
  /** The NVMe block device used: the disk or one of its partitions. */
  device?: string;
  /** Holders between `device` and the use, lowest first (`['dm-0']`). */
  holders?: string[];
  use: 'mounted' | 'swap' | 'unknown';
  /** `mounted`: where. */
  mountPoint?: string;
  /** `unknown`: what could not be read. */
  unreadable?: string;
}

/** `nvme1n1p1 held by dm-0 mounted at /mnt`, `nvme1n1 active swap`, `cannot read mounts (...)`. */
export function describeInUse(f: InUseFact): string {
  if (f.use === 'unknown') return `cannot read ${f.unreadable ?? 'the host'}`;
  const held = (f.holders ?? []).map((h) => ` held by ${h}`).join('');
  return `${f.device ?? f.disk ?? '?'}${held} ${f.use === 'swap' ? 'active swap' : `mounted at ${f.mountPoint ?? '?'}`}`;
}

/** The plan reason of an in-use skip: `in use: ` and the first fact (`(+N more)`). */
export function inUseReason(facts: readonly InUseFact[]): string {
  const first = facts[0];
  const more = facts.length > 1 ? ` (+${facts.length - 1} more)` : '';
  return `in use: ${first === undefined ? 'unknown' : describeInUse(first)}${more}`;
}

/** The uses of each namespace disk of a snapshot, computed once per snapshot. */
const usesCache = new WeakMap<HostSnapshot, Map<string, InUseFact[]>>();

function usesByDisk(s: HostSnapshot): Map<string, InUseFact[]> {
  const cached = usesCache.get(s);
  if (cached !== undefined) return cached;
  const mountsByDev = new Map<string, string[]>();
  for (const m of s.mounts) {
    const list = mountsByDev.get(m.dev);
    if (list === undefined) mountsByDev.set(m.dev, [m.mountPoint]);
    else list.push(m.mountPoint);
  }
  const swapped = new Set(s.swaps.map((w) => w.device).filter((d): d is string => d !== null));
  const out = new Map<string, InUseFact[]>();
  for (const disk of Object.keys(s.disks)) {
    const facts: InUseFact[] = [];
    /** Uses of block `name` reached from NVMe device `device` through `holders`. */
    const walk = (name: string, device: string, holders: string[], seen: Set<string>): void => {
      if (seen.has(name)) return;
      seen.add(name);
      const b = s.blocks[name];
      const base = { disk, device, ...(holders.length > 0 ? { holders } : {}) };
      const dev = b?.dev ?? null;
      for (const mp of (dev !== null ? mountsByDev.get(dev) : undefined) ?? [])
        facts.push({ ...base, use: 'mounted', mountPoint: mp });
      if (swapped.has(name)) facts.push({ ...base, use: 'swap' });
      for (const h of b?.holders ?? []) walk(h, device, [...holders, h], seen);
    };
    walk(disk, disk, [], new Set());
    for (const p of s.blocks[disk]?.partitions ?? []) walk(p, p, [], new Set([disk]));
    if (facts.length > 0) out.set(disk, facts);
  }
  usesCache.set(s, out);
  return out;
}

/**
 * Why deleting `device`, with the controllers in `going` (already approved or being deleted),
 * is unsafe: the uses of every disk it serves that would be left without a live path. Empty
 * when it may go.
 */
export function inUseFacts(s: HostSnapshot, device: string, going: ReadonlySet<string>): InUseFact[] {
  if (s.unreadable.length > 0) return s.unreadable.map((u) => ({ use: 'unknown', unreadable: u }));
  const uses = usesByDisk(s);
  if (uses.size === 0) return [];
  const live = liveControllers(s);
  const out: InUseFact[] = [];
  for (const disk of s.namespaces[device] ?? []) {
    const facts = uses.get(disk);
    if (facts === undefined) continue;
    const paths = s.disks[disk]?.paths ?? [];
    const survives = paths.some((c) => c !== device && !going.has(c) && live.has(c));
    if (!survives) out.push(...facts);
  }
  return out;
}

const liveCache = new WeakMap<HostSnapshot, Set<string>>();

function liveControllers(s: HostSnapshot): Set<string> {
  let live = liveCache.get(s);
  if (live === undefined) {
    live = new Set(s.controllers.filter((c) => c.state === 'live').map((c) => c.device));
    liveCache.set(s, live);
  }
  return live;
}

/**
 * The in-use pass over a plan (contract: after the PCIe, transport and boot-critical rows,
 * before ownership's "disconnect"): walks the items the earlier passes left as "disconnect",
 * in plan order, and turns each that is in use, given the ones approved before it, into a
 * skip with the facts; so of two live paths of a mounted head the first may go and the last
 * is refused. `ignoreInUse` leaves the plan as it is. A new array; items are not changed.
 */
export function applyInUse(
  plan: readonly PlanItem[],
  s: HostSnapshot,
  o: { ignoreInUse?: boolean } = {},
): PlanItem[] {
  if (o.ignoreInUse === true) return [...plan];
  const approved = new Set<string>();
  return plan.map((item) => {
    if (item.action !== 'disconnect') return item;
    const facts = inUseFacts(s, item.device, approved);
    if (facts.length === 0) {
      approved.add(item.device);
      return item;
    }
    return { ...item, action: 'skip', reason: inUseReason(facts), inUse: facts };
  });
}
