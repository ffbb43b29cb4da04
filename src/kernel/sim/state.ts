/**
 * The simulated host's kernel state and the pure rules over it: instance allocation with the
 * subsystem exception, duplicate detection, and the uevents each step emits. I/O lives in
 * materialise.ts and sim.ts.
 */
export interface SimController {
  instance: number;
  transport: string;
  traddr?: string;
  trsvcid?: string;
  host_traddr?: string;
  host_iface?: string;
  subsysnqn: string;
  hostnqn: string;
  hostid: string;
  cntlid: number;
  /** Key of the host-side subsystem once joined (after the fabrics connect succeeded). */
  subsys: string | null;
  discovery: boolean;
  state: 'connecting' | 'live' | 'resetting' | 'deleting';
  /** Head instances of the namespaces attached through this controller. */
  heads: number[];
  ctrlLossTmo?: number;
  /** reconnect_delay in seconds (the kernel's default 10 when the connect gave none). */
  reconnectDelay?: number;
  /**
   * Set while the controller has lost its path and is being recovered (error recovery, then a
   * reconnect attempt every reconnect_delay): when the next step is due, and the attempts so far.
   */
  recovery?: { dueAt: number; attempts: number };
  /** hwmon instance (I/O controllers only: 6.1's nvme_init_ctrl_finish skips discovery ones). */
  hwmon?: number;
  /** Block minors (major 259) of this controller's disks by head: hidden path disks, or the disks without multipath. */
  minors?: Record<string, number>;
  /**
   * The namespace scan nvme_start_ctrl queued before the reply; it runs after it (async work),
   * and a delete flushes it first. `multipath` is fixed when queued so the scan needs no config.
   */
  scan?: { dueAt: number; namespaces: number; multipath: boolean; partitions?: number };
  /** Without multipath: block minors of each disk's partitions, by head (p1, p2, ...). */
  partMinors?: Record<string, number[]>;
}

export interface SimSubsystemState {
  /** The subsystem keeps the instance of its first controller (the kernel's nvme-subsysN). */
  instance: number;
  nqn: string;
  discovery: boolean;
  controllers: number[];
  /** Block minors of the multipath head disks by head instance (a head lives while a path does). */
  headMinors?: Record<string, number>;
  /** Block minors of each head's partitions, by head instance (p1, p2, ...). */
  partMinors?: Record<string, number[]>;
}

/** A filesystem mounted on the simulated host (`nvmf sim mount`). */
export interface SimMount {
  id: number;
  /** Block device name (`nvme0n1`, `nvme0n1p1`, `dm-0`) and its `major:minor` at mount time. */
  device: string;
  dev: string;
  mountPoint: string;
}

/** An active swap area on a block device (`nvmf sim swapon`). */
export interface SimSwap {
  device: string;
  dev: string;
}

/** A device-mapper or md device stacked on other block devices (`nvmf sim hold`). */
export interface SimHolder {
  dev: string;
  /** The block devices it holds (its `slaves/`). */
  slaves: string[];
}

/** What the host does with its block devices: mounts, swap, holders (the sim's /proc and holders). */
export interface SimBlockUse {
  mounts: SimMount[];
  swaps: SimSwap[];
  holders: Record<string, SimHolder>;
  nextMountId: number;
}

export function emptyBlockUse(): SimBlockUse {
  return { mounts: [], swaps: [], holders: {}, nextMountId: 100 };
}

/** A subsystem's link to a port on the target (nvmet: ports/N/subsystems/NQN). */
export interface SimLink {
  nqn: string;
  transport: string;
  traddr?: string;
  trsvcid?: string;
}

export interface SimState {
  version: 1;
  controllers: Record<string, SimController>;
  subsystems: Record<string, SimSubsystemState>;
  /** cntlids in use per target subsystem (nvmet allocates lowest free from 1). */
  targetCntlids: Record<string, number[]>;
  /** Links of the configured targets that are taken away (simTargetDown) until given back. */
  downLinks: SimLink[];
  blockUse: SimBlockUse;
}

export function emptyState(): SimState {
  return {
    version: 1,
    controllers: {},
    subsystems: {},
    targetCntlids: {},
    downLinks: [],
    blockUse: emptyBlockUse(),
  };
}

/** The kernel's defaults (NVMF_DEF_RECONNECT_DELAY, NVMF_DEF_CTRL_LOSS_TMO), in seconds. */
export const DEFAULT_RECONNECT_DELAY = 10;
export const DEFAULT_CTRL_LOSS_TMO = 600;

/**
 * Reconnect attempts before the kernel gives the controller up (nvmf_parse_options:
 * DIV_ROUND_UP(ctrl_loss_tmo, reconnect_delay)); -1 = forever (a negative ctrl_loss_tmo).
 */
export function maxReconnects(c: Pick<SimController, 'ctrlLossTmo' | 'reconnectDelay'>): number {
  const tmo = c.ctrlLossTmo ?? DEFAULT_CTRL_LOSS_TMO;
  if (tmo < 0) return -1;
  return Math.ceil(tmo / (c.reconnectDelay ?? DEFAULT_RECONNECT_DELAY));
}

/** Instances in use: live controllers plus the instances subsystems hold. */
export function usedInstances(s: SimState): Set<number> {
  const used = new Set<number>();
  for (const c of Object.values(s.controllers)) used.add(c.instance);
  for (const sub of Object.values(s.subsystems)) used.add(sub.instance);
  return used;
}

/**
 * Minors of major 259 in use: every disk, hidden path disks and partitions included
 * (blk_alloc_ext_minor), and those of removed devices still mounted, swapped on or held:
 * the kernel frees a minor only when the last reference to its gendisk goes.
 */
export function usedMinors(s: SimState): Set<number> {
  const used = new Set<number>();
  for (const c of Object.values(s.controllers)) {
    for (const m of Object.values(c.minors ?? {})) used.add(m);
    for (const ms of Object.values(c.partMinors ?? {})) for (const m of ms) used.add(m);
  }
  for (const sub of Object.values(s.subsystems)) {
    for (const m of Object.values(sub.headMinors ?? {})) used.add(m);
    for (const ms of Object.values(sub.partMinors ?? {})) for (const m of ms) used.add(m);
  }
  const u = s.blockUse;
  for (const dev of [...u.mounts.map((m) => m.dev), ...u.swaps.map((w) => w.dev)]) {
    const [major, minor] = dev.split(':');
    if (major === String(BLOCK_EXT_MAJOR)) used.add(Number(minor));
  }
  return used;
}

/** The major of NVMe disks and partitions (BLOCK_EXT_MAJOR). */
export const BLOCK_EXT_MAJOR = 259;

export function usedHwmons(s: SimState): Set<number> {
  const used = new Set<number>();
  for (const c of Object.values(s.controllers)) if (c.hwmon !== undefined) used.add(c.hwmon);
  return used;
}

export function lowestFree(used: Set<number>): number {
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

export function lowestFreeFrom1(used: readonly number[]): number {
  const set = new Set(used);
  let i = 1;
  while (set.has(i)) i++;
  return i;
}

/** The kernel's duplicate check (nvmf_ip_options_match + nvmf_ctlr_matches_baseopts). */
export function findDuplicate(
  s: SimState,
  o: Pick<
    SimController,
    'transport' | 'traddr' | 'trsvcid' | 'host_traddr' | 'host_iface' | 'subsysnqn' | 'hostnqn'
  >,
): SimController | undefined {
  return Object.values(s.controllers).find(
    (c) =>
      c.state !== 'deleting' &&
      c.transport === o.transport &&
      (c.traddr ?? '') === (o.traddr ?? '') &&
      (c.trsvcid ?? '') === (o.trsvcid ?? '') &&
      (c.host_traddr ?? '') === (o.host_traddr ?? '') &&
      (c.host_iface ?? '') === (o.host_iface ?? '') &&
      c.subsysnqn === o.subsysnqn &&
      c.hostnqn === o.hostnqn,
  );
}

export interface SimUevent {
  action: 'add' | 'remove' | 'change';
  subsystem: string;
  kernel: string;
  devpath: string;
  env?: Record<string, string>;
}

const CTL = '/devices/virtual/nvme-fabrics/ctl';

export function ctrlAddEvent(instance: number): SimUevent {
  return { action: 'add', subsystem: 'nvme', kernel: `nvme${instance}`, devpath: `${CTL}/nvme${instance}` };
}

export function ctrlRemoveEvent(instance: number): SimUevent {
  return {
    action: 'remove',
    subsystem: 'nvme',
    kernel: `nvme${instance}`,
    devpath: `${CTL}/nvme${instance}`,
  };
}

export function subsysEvent(action: 'add' | 'remove', subsysInstance: number): SimUevent {
  const k = `nvme-subsys${subsysInstance}`;
  return { action, subsystem: 'nvme-subsystem', kernel: k, devpath: `/devices/virtual/nvme-subsystem/${k}` };
}

export function hwmonEvent(action: 'add' | 'remove', ctrl: number, hwmon: number): SimUevent {
  return {
    action,
    subsystem: 'hwmon',
    kernel: `hwmon${hwmon}`,
    devpath: `${CTL}/nvme${ctrl}/hwmon${hwmon}`,
  };
}

/**
 * What one namespace announces when the scan attaches it, in 6.1's order (docs/kernel-tests.md,
 * "Event order"): the disk's bdi, the disk, its generic char device. With native multipath the
 * usable disk is the subsystem's head `nvme<S>n<H>` with `ng<S>n<H>`, announced only by the
 * namespace's first path; the per-controller path disk is hidden and sends nothing. Without
 * multipath every controller has its own `nvme<C>n<H>` and `ng<C>n<H>`.
 */
export function nsAttachEvents(
  ctrl: number,
  subsys: number,
  head: number,
  newHead: boolean,
  multipath: boolean,
  minor: number,
): SimUevent[] {
  if (multipath && !newHead) return [];
  const parent = multipath ? `/devices/virtual/nvme-subsystem/nvme-subsys${subsys}` : `${CTL}/nvme${ctrl}`;
  const owner = multipath ? subsys : ctrl;
  return [
    { action: 'add', subsystem: 'bdi', kernel: `259:${minor}`, devpath: `/devices/virtual/bdi/259:${minor}` },
    {
      action: 'add',
      subsystem: 'block',
      kernel: `nvme${owner}n${head}`,
      devpath: `${parent}/nvme${owner}n${head}`,
    },
    {
      action: 'add',
      subsystem: 'nvme-generic',
      kernel: `ng${owner}n${head}`,
      devpath: `${parent}/ng${owner}n${head}`,
    },
  ];
}

/** Removal in 6.1's order: the char device, then del_gendisk's bdi and disk. */
export function nsDetachEvents(
  ctrl: number,
  subsys: number,
  head: number,
  lastPath: boolean,
  multipath: boolean,
  minor: number,
): SimUevent[] {
  const [bdi, block, generic] = nsAttachEvents(ctrl, subsys, head, lastPath, multipath, minor);
  if (!bdi || !block || !generic) return [];
  return [generic, bdi, block].map((e) => ({ ...e, action: 'remove' }));
}

/**
 * What a reconnect announces, measured on 6.1 (one namespace, multipath): a `change` of each
 * namespace's usable disk (the head, or the controller's own disk without multipath), then
 * the controller's `NVME_EVENT=connected`.
 */
export function reconnectedEvents(
  ctrl: number,
  subsys: number,
  heads: readonly number[],
  multipath: boolean,
): SimUevent[] {
  const owner = multipath ? subsys : ctrl;
  const parent = multipath ? `/devices/virtual/nvme-subsystem/nvme-subsys${subsys}` : `${CTL}/nvme${ctrl}`;
  return [
    ...heads.map((h): SimUevent => ({
      action: 'change',
      subsystem: 'block',
      kernel: `nvme${owner}n${h}`,
      devpath: `${parent}/nvme${owner}n${h}`,
    })),
    connectedEvent(ctrl),
  ];
}

export function connectedEvent(instance: number): SimUevent {
  return { ...ctrlAddEvent(instance), action: 'change', env: { NVME_EVENT: 'connected' } };
}
