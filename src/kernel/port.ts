/**
 * The Kernel port: everything the engine needs from the Linux NVMe host stack, and nothing
 * more. Two adapters implement it: `linux.ts` (the real kernel, roots configurable) and
 * `sim.ts` (a simulated kernel whose state lives in a directory, for tests). The sim
 * materialises sysfs and dev trees in the same shape as the real ones, so the sysfs readers
 * are shared and only connect, delete and the discovery log page differ.
 *
 * Errors: adapters throw `NvmfError` with code `EKERNEL` and `details.errno` set to the
 * kernel's errno name (`EALREADY`, `ECONNREFUSED`, `EIO`, `EINVAL`, ...); the message says
 * what it means for a user. Option strings can hold secrets, so they never go into errors.
 */

import type { NbftTableRead } from './nbft.js';
import type { ControllerIdentity } from '../nvme/target.js';

/** The parsed `address` sysfs attribute (`traddr=...,trsvcid=...,host_traddr=...`). */
export interface ControllerAddress {
  traddr?: string;
  trsvcid?: string;
  host_traddr?: string;
  host_iface?: string;
  src_addr?: string;
}

export type SubsystemType = 'nvm' | 'discovery' | 'unknown';

export interface ControllerInfo {
  /** `nvmeN` */
  device: string;
  instance: number;
  /** `tcp`, `rdma`, `fc`, `loop`, `pcie`, ... as sysfs `transport` says. */
  transport: string;
  /** Fabrics controllers are the only ones a disconnect may ever touch. */
  fabrics: boolean;
  address: ControllerAddress;
  /** The raw `address` attribute, for display. */
  rawAddress: string;
  subsysnqn: string;
  hostnqn: string | null;
  hostid: string | null;
  /** `live`, `connecting`, `resetting`, `deleting`, `new`, `dead`, ... */
  state: string;
  cntlid: number | null;
  subsystemType: SubsystemType;
}

/** Which controllers a listing wants: those whose `subsysnqn` is this one, exactly. */
export interface ControllerFilter {
  subsysnqn: string;
}

export type { HostSnapshot } from './block.js';
import type { HostSnapshot } from './block.js';

export interface ConnectReply {
  instance: number;
  cntlid: number;
}

/**
 * What the registry needs to know about the host, and nothing more: the Kernel port
 * implements it, so the registry is handed the same view of the host as the engine
 * (a sim kernel's dev tree, or the real /dev) instead of reading it itself.
 */
export interface HostFacts {
  /** Whether `/dev/nvmeN` exists (synchronous: the registry's guard 1 needs it inline). */
  deviceNodeExists(device: string): boolean;
  /** `/sys/kernel/uevent_seqnum`, read synchronously (stamped right after connect). */
  ueventSeqnum(): number;
  /** This boot's id (`/proc/sys/kernel/random/boot_id`), or null when unreadable. */
  bootId(): string | null;
  /**
   * Whether controller `nvmeN` exists (`/sys/class/nvme/nvmeN`, the liveness fact of every
   * ownership decision) and its identity (null when unreadable), read synchronously; null
   * when there is no such controller. Both kernels implement it; a host without it (a
   * hand-made one) has its device nodes stand in for liveness, with no identity.
   */
  liveController?(device: string): LiveControllerFacts | null;
}

export interface LiveControllerFacts {
  readonly identity: ControllerIdentity | null;
}

export interface Kernel extends HostFacts {
  readonly kind: 'linux' | 'sim';

  /**
   * Write the option string to `/dev/nvme-fabrics` and read `instance=N,cntlid=M` back from
   * the same fd. Must not block the event loop (libuv pool or a worker).
   */
  connect(options: string): Promise<ConnectReply>;

  /** Option names the kernel lists when `/dev/nvme-fabrics` is read; null when unreadable. */
  supportedOptions(): Promise<readonly string[] | null>;

  /**
   * All controllers under `/sys/class/nvme`, fabrics or not, in natural order; with `only`,
   * just those of subsystem `only.subsysnqn` (the others' other attributes are not read).
   */
  listControllers(only?: ControllerFilter): Promise<ControllerInfo[]>;

  /** One controller, or null if it does not exist. */
  controller(device: string): Promise<ControllerInfo | null>;

  /** Write `1` to `delete_controller`. Synchronous in the kernel: when it returns, the node is gone. */
  deleteController(device: string): Promise<void>;

  /**
   * One read of the host (DESIGN §4a): controllers, their namespaces and multipath paths,
   * partitions, holders, mounts and swap. With `devices`, only those controllers and the
   * other paths of their namespaces (a re-check's read); mounts and swap are always whole.
   */
  hostSnapshot(devices?: readonly string[]): Promise<HostSnapshot>;

  /** Block devices of the controller's namespaces (`nvme3n1`, ...), natural order. */
  namespaces(device: string): Promise<string[]>;

  /** Whether the block device node `/dev/<name>` exists. */
  blockDeviceExists(name: string): boolean;

  /** The whole discovery log page (header + numrec entries) of a discovery controller. */
  discoveryLogPage(device: string): Promise<Uint8Array>;

  /**
   * The firmware's NBFT tables (`firmware/acpi/tables/NBFT*` under the sysfs root), each
   * decoded or with its error: part of the host's facts, since a controller serving an NBFT
   * subsystem entry is the boot device (DESIGN §4a). [] when the host has none.
   */
  nbftTables(): Promise<NbftTableRead[]>;
}
