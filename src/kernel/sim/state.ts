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
}

export interface SimSubsystemState {
  /** The subsystem keeps the instance of its first controller (the kernel's nvme-subsysN). */
  instance: number;
  nqn: string;
  discovery: boolean;
  controllers: number[];
}

export interface SimState {
  version: 1;
  controllers: Record<string, SimController>;
  subsystems: Record<string, SimSubsystemState>;
  /** cntlids in use per target subsystem (nvmet allocates lowest free from 1). */
  targetCntlids: Record<string, number[]>;
}

export function emptyState(): SimState {
  return { version: 1, controllers: {}, subsystems: {}, targetCntlids: {} };
}

/** Instances in use: live controllers plus the instances subsystems hold. */
export function usedInstances(s: SimState): Set<number> {
  const used = new Set<number>();
  for (const c of Object.values(s.controllers)) used.add(c.instance);
  for (const sub of Object.values(s.subsystems)) used.add(sub.instance);
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

/**
 * Per namespace on attach: the hidden per-path disk, its generic char device, and (first path
 * only) the head disk and its bdi. With one namespace on a new subsystem a connect emits
 * 7 events, as measured on 6.1.
 */
export function nsAttachEvents(
  ctrl: number,
  subsys: number,
  head: number,
  newHead: boolean,
  multipath: boolean,
): SimUevent[] {
  const ev: SimUevent[] = [];
  if (multipath) {
    const pathDisk = `nvme${subsys}c${ctrl}n${head}`;
    ev.push({
      action: 'add',
      subsystem: 'block',
      kernel: pathDisk,
      devpath: `${CTL}/nvme${ctrl}/${pathDisk}`,
    });
  }
  ev.push({
    action: 'add',
    subsystem: 'nvme-generic',
    kernel: `ng${ctrl}n${head}`,
    devpath: `${CTL}/nvme${ctrl}/ng${ctrl}n${head}`,
  });
  if (newHead || !multipath) {
    const disk = multipath ? `nvme${subsys}n${head}` : `nvme${ctrl}n${head}`;
    const dp = multipath
      ? `/devices/virtual/nvme-subsystem/nvme-subsys${subsys}/${disk}`
      : `${CTL}/nvme${ctrl}/${disk}`;
    ev.push({ action: 'add', subsystem: 'block', kernel: disk, devpath: dp });
    ev.push({
      action: 'add',
      subsystem: 'bdi',
      kernel: `259:${head}`,
      devpath: `/devices/virtual/bdi/259:${head}`,
    });
  }
  return ev;
}

export function nsDetachEvents(
  ctrl: number,
  subsys: number,
  head: number,
  lastPath: boolean,
  multipath: boolean,
): SimUevent[] {
  return nsAttachEvents(ctrl, subsys, head, lastPath, multipath)
    .reverse()
    .map((e) => ({ ...e, action: 'remove' }));
}

export function connectedEvent(instance: number): SimUevent {
  return { ...ctrlAddEvent(instance), action: 'change', env: { NVME_EVENT: 'connected' } };
}
