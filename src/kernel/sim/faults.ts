import fs from 'node:fs';
import path from 'node:path';
import { NvmfError } from '../../errors.js';
import { type SimLayout, writeAtomic } from './layout.js';
import { withDirLock } from './lock.js';

/**
 * Injected kernel failures, stored in DIR so every process on the simulated host sees them.
 * The real kernel fails a delete_controller write while the controller cannot enter state
 * deleting (EBUSY: being reset or already torn down by someone else) or on an I/O or memory
 * error; the sim cannot reach those states by itself, so tests ask for them here.
 */
export type SimFaultOp = 'delete';

export interface SimFault {
  device: string;
  op: SimFaultOp;
  errno: string;
  /** Failures left before the operation works again; null = every time until cleared. */
  remaining: number | null;
}

/** Errnos a delete_controller write can return on Linux (kernel paths, not guesses at userspace). */
export const SIM_DELETE_ERRNOS: readonly string[] = ['EBUSY', 'EIO', 'ENOMEM', 'EINVAL', 'EACCES', 'EPERM'];

function faultsFile(l: SimLayout): string {
  return path.join(l.meta, 'faults.json');
}

function lockOf(l: SimLayout): string {
  return path.join(l.meta, '.faults.lock');
}

function read(l: SimLayout): SimFault[] {
  let text: string;
  try {
    text = fs.readFileSync(faultsFile(l), 'utf8');
  } catch {
    return [];
  }
  const v = JSON.parse(text) as { faults?: SimFault[] };
  return Array.isArray(v.faults) ? v.faults : [];
}

function write(l: SimLayout, faults: readonly SimFault[]): void {
  if (faults.length === 0) fs.rmSync(faultsFile(l), { force: true });
  else writeAtomic(faultsFile(l), `${JSON.stringify({ faults }, null, 2)}\n`);
}

export function checkFaultErrno(op: SimFaultOp, errno: string): string {
  if (!SIM_DELETE_ERRNOS.includes(errno)) {
    throw new NvmfError(
      'EINVALID_VALUE',
      `errno "${errno}" cannot be injected into ${op}; use one of ${SIM_DELETE_ERRNOS.join(', ')}`,
      { errno, op },
    );
  }
  return errno;
}

export function listFaults(l: SimLayout): SimFault[] {
  return read(l);
}

/** Add (or replace) the fault of `op` on `device`. */
export function setFault(l: SimLayout, fault: SimFault): Promise<SimFault[]> {
  checkFaultErrno(fault.op, fault.errno);
  if (fault.remaining !== null && !(Number.isSafeInteger(fault.remaining) && fault.remaining > 0)) {
    throw new NvmfError('EINVALID_VALUE', `fault count ${fault.remaining} must be a positive integer`, {});
  }
  return withDirLock(lockOf(l), () => {
    const next = [...read(l).filter((f) => !(f.device === fault.device && f.op === fault.op)), fault];
    write(l, next);
    return next;
  });
}

/** Remove the faults of `device` (every device when omitted); returns what is left. */
export function clearFaults(l: SimLayout, device?: string): Promise<SimFault[]> {
  return withDirLock(lockOf(l), () => {
    const next = device === undefined ? [] : read(l).filter((f) => f.device !== device);
    write(l, next);
    return next;
  });
}

/**
 * The errno `op` on `device` must fail with now, consuming one use of a counted fault, or
 * null. Without a faults file (the normal case) this is one failed stat and no lock.
 */
export async function takeFault(l: SimLayout, device: string, op: SimFaultOp): Promise<string | null> {
  if (!fs.existsSync(faultsFile(l))) return null;
  return withDirLock(lockOf(l), () => {
    const faults = read(l);
    const f = faults.find((x) => x.device === device && x.op === op);
    if (f === undefined) return null;
    if (f.remaining !== null) {
      f.remaining -= 1;
      write(
        l,
        faults.filter((x) => x.remaining === null || x.remaining > 0),
      );
    }
    return f.errno;
  });
}
