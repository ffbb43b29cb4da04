import crypto from 'node:crypto';
import fs from 'node:fs';
import { NvmfError } from '../../errors.js';
import type { SimLayout } from './layout.js';
import { KERNEL_61_OPTIONS } from './options.js';
import type { SimTargets } from './targets.js';

export interface SimUdevConfig {
  /** `auto`: processes using the sim run due events in the background; `manual`: only settle runs them. */
  mode: 'auto' | 'manual';
  /** Delay between an event being queued and udevd processing it. */
  delayMs: number;
  /** Rule file to run; null = the repository's udev/70-nvmf-registry.rules. */
  rulesFile: string | null;
  /** Program path in a RUN value -> path to run instead (defaults map the libexec helper to the repo's). */
  programs: Record<string, string>;
}

export interface SimConfig {
  version: 1;
  hostnqn: string;
  hostid: string;
  /** Native NVMe multipath (Debian's default): namespaces appear as subsystem heads. */
  multipath: boolean;
  /** Transport modules "loaded"; others give EINVAL. */
  transports: string[];
  /** What reading /dev/nvme-fabrics returns (the kernel's option template). */
  fabricsOptions: string;
  latency: {
    /** Between the controller appearing in sysfs (state connecting) and the connect reply. */
    connectMs: number;
    /** Between the delete_controller write and the controller's removal. */
    deleteMs: number;
    /**
     * Between the connect reply and the namespace scan that attaches the namespaces (the
     * kernel's asynchronous scan_work). Absent in configurations written before it existed.
     */
    scanMs?: number;
  };
  udev: SimUdevConfig;
  targets: SimTargets;
}

/**
 * Small but never 0: on the real kernel the scan normally finishes a few ms after the reply
 * (docs/kernel-tests.md: the reply's seqnum covered the namespace events in 1 of 9 rounds).
 */
export const DEFAULT_SCAN_MS = 2;

export function scanDelayOf(cfg: SimConfig): number {
  const ms = cfg.latency.scanMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_SCAN_MS;
}

export function defaultConfig(): SimConfig {
  const hostid = crypto.randomUUID();
  return {
    version: 1,
    hostnqn: `nqn.2014-08.org.nvmexpress:uuid:${hostid}`,
    hostid,
    multipath: true,
    transports: ['tcp', 'rdma', 'fc', 'loop'],
    fabricsOptions: KERNEL_61_OPTIONS,
    latency: { connectMs: 0, deleteMs: 0, scanMs: DEFAULT_SCAN_MS },
    udev: { mode: 'auto', delayMs: 0, rulesFile: null, programs: {} },
    targets: { subsystems: [], discovery: [] },
  };
}

export function readConfig(l: SimLayout): SimConfig {
  let text: string;
  try {
    text = fs.readFileSync(l.config, 'utf8');
  } catch {
    throw new NvmfError(
      'EINVALID_VALUE',
      `${l.dir} is not a simulated host (no sim/config.json); run: nvmf sim init ${l.dir}`,
      {
        dir: l.dir,
      },
    );
  }
  return JSON.parse(text) as SimConfig;
}
