import { errnoOf, NvmfError } from '../errors.js';

/**
 * The one place kernel errnos become messages a user can act on. Callers pass a description
 * of what they were doing (`describeTarget` for connects); option strings themselves can hold
 * DH-HMAC-CHAP or TLS keys and never reach an error.
 */
export type KernelOp = 'connect' | 'delete' | 'discovery' | 'options' | 'read';

/** Option names that are safe to show (no keys, no secrets). */
const SAFE_KEYS = ['transport', 'traddr', 'trsvcid', 'host_traddr', 'host_iface', 'nqn', 'hostnqn'] as const;

/** `tcp 10.0.0.1:4420 nqn.x (hostnqn nqn.h)`: the safe parts of an option string, for messages. */
export function describeTarget(options: string): string {
  const o: Record<string, string> = {};
  for (const part of options.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    if ((SAFE_KEYS as readonly string[]).includes(k)) o[k] = part.slice(eq + 1).trim();
  }
  const addr =
    o['traddr'] !== undefined ? ` ${o['traddr']}${o['trsvcid'] !== undefined ? `:${o['trsvcid']}` : ''}` : '';
  const via =
    o['host_traddr'] || o['host_iface']
      ? ` via ${[o['host_traddr'], o['host_iface']].filter(Boolean).join('/')}`
      : '';
  const host = o['hostnqn'] !== undefined ? ` (hostnqn ${o['hostnqn']})` : '';
  return `${o['transport'] ?? '?'}${addr}${via} ${o['nqn'] ?? '?'}${host}`;
}

function hint(errno: string, op: KernelOp, what: string): string {
  switch (errno) {
    case 'EALREADY':
      return `${what}: already connected (same host, subsystem and address); use duplicate_connect or another hostnqn to add a second controller`;
    case 'ECONNREFUSED':
      return `${what}: connection refused, nothing listens at that address and port; check traddr/trsvcid and that the target is up`;
    case 'EIO':
      return op === 'connect'
        ? `${what}: the target rejected the connect (unknown subsystem NQN, or this host NQN is not allowed); check nqn and the target's allowed hosts`
        : `${what}: I/O error from the controller; check its state and the kernel log`;
    case 'EINVAL':
      return op === 'connect'
        ? `${what}: the kernel rejected the options (invalid option string or unknown transport); check that nvme-fabrics and the transport module (nvme-tcp, nvme-rdma, nvme-fc, nvme-loop) are loaded`
        : `${what}: the kernel rejected the request as invalid`;
    case 'ENOENT':
    case 'ENODEV':
      return op === 'connect' || op === 'options'
        ? `${what}: /dev/nvme-fabrics is missing; load the fabrics module (modprobe nvme-fabrics)`
        : `${what}: no such controller (it went away)`;
    case 'EACCES':
    case 'EPERM':
      return `${what}: permission denied; NVMe fabrics operations need root (CAP_SYS_ADMIN)`;
    case 'ETIMEDOUT':
      return `${what}: timed out; check the network path to the target and the target's load`;
    case 'ENOMEM':
      return `${what}: the kernel is out of memory`;
    case 'EBUSY':
      return `${what}: the controller is busy (being reset or deleted); retry later`;
    case 'ECANCELED':
      return `${what}: the controller was deleted while it was connecting`;
    case 'ENOTTY':
      return `${what}: the device does not support the NVMe admin passthrough ioctl`;
    default:
      return `${what}: the kernel returned ${errno}`;
  }
}

/**
 * An `EKERNEL` NvmfError for a failed kernel operation. `cause` is any thrown value; a Node
 * system error's message holds the path only, never the written data, but we still do not
 * chain it for connects (defence in depth), only its errno.
 */
export function kernelError(
  op: KernelOp,
  errnoOrCause: unknown,
  what: string,
  details: Record<string, unknown> = {},
): NvmfError {
  const errno = typeof errnoOrCause === 'string' ? errnoOrCause : (errnoOf(errnoOrCause) ?? 'EUNKNOWN');
  return new NvmfError('EKERNEL', hint(errno, op, what), { ...details, errno, op });
}

/** Errnos that say "the controller does not exist" when touching its sysfs/dev files. */
export function isGoneErrno(e: unknown): boolean {
  const c = errnoOf(e);
  return c === 'ENOENT' || c === 'ENODEV' || c === 'ENXIO';
}
