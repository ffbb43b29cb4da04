import { afterEach, describe, expect, it } from 'vitest';
import {
  type SimKernel,
  SimKernel as SimKernelClass,
  simClearFaults,
  simFail,
  simFaults,
  simPendingEvents,
} from '../../src/kernel/sim.js';
import { connectString } from './facts.js';
import { newSim, TARGET } from './helpers.js';

describe('simulated kernel: injected delete failures', () => {
  let k: SimKernel | undefined;
  afterEach(() => k?.close());

  async function twoControllers(): Promise<{ dir: string; kernel: SimKernel }> {
    const s = await newSim();
    k = s.kernel;
    await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    await s.kernel.connect(connectString(TARGET, TARGET.nqn0));
    return s;
  }

  it('a delete fails with the kernel-shaped error, leaves the controller live and queues no event', async () => {
    const s = await twoControllers();
    await simFail(s.dir, 'nvme0', { op: 'delete', errno: 'EBUSY' });
    const seq = s.kernel.ueventSeqnum();
    const pending = simPendingEvents(s.dir).length;
    const err = await s.kernel.deleteController('nvme0').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'EKERNEL',
      details: { errno: 'EBUSY', op: 'delete', device: 'nvme0' },
    });
    expect((err as Error).message).toBe(
      'disconnect nvme0: the controller is busy (being reset or deleted); retry later',
    );
    expect((await s.kernel.controller('nvme0'))?.state).toBe('live');
    expect(s.kernel.deviceNodeExists('nvme0')).toBe(true);
    expect(s.kernel.ueventSeqnum()).toBe(seq);
    expect(simPendingEvents(s.dir)).toHaveLength(pending);
    // other controllers are unaffected
    await s.kernel.deleteController('nvme1');
    expect((await s.kernel.listControllers()).map((c) => c.device)).toEqual(['nvme0']);
    // a fault without a count stays until cleared
    await expect(s.kernel.deleteController('nvme0')).rejects.toMatchObject({ details: { errno: 'EBUSY' } });
    expect(await simClearFaults(s.dir, 'nvme0')).toEqual([]);
    await s.kernel.deleteController('nvme0');
    expect(await s.kernel.listControllers()).toEqual([]);
  });

  it('a counted fault fails that many times, then the delete works; another process sees it', async () => {
    const s = await twoControllers();
    expect(await simFail(s.dir, 'nvme1', { op: 'delete', errno: 'EIO', count: 2 })).toEqual([
      { device: 'nvme1', op: 'delete', errno: 'EIO', remaining: 2 },
    ]);
    // a second kernel instance stands in for another process: state comes from DIR only
    const other = new SimKernelClass({ dir: s.dir });
    try {
      await expect(other.deleteController('nvme1')).rejects.toMatchObject({ details: { errno: 'EIO' } });
      expect(simFaults(s.dir)).toEqual([{ device: 'nvme1', op: 'delete', errno: 'EIO', remaining: 1 }]);
      await expect(s.kernel.deleteController('nvme1')).rejects.toThrow(/I\/O error/);
      expect(simFaults(s.dir)).toEqual([]);
      await other.deleteController('nvme1');
    } finally {
      other.close();
    }
    expect((await s.kernel.listControllers()).map((c) => c.device)).toEqual(['nvme0']);
  });

  it('rejects an errno a delete_controller write cannot return, a bad count and a bad device', async () => {
    const s = await twoControllers();
    await expect(simFail(s.dir, 'nvme0', { op: 'delete', errno: 'ECONNREFUSED' })).rejects.toThrow(
      'errno "ECONNREFUSED" cannot be injected into delete; use one of EBUSY, EIO, ENOMEM, EINVAL, EACCES, EPERM',
    );
    await expect(simFail(s.dir, 'nvme0', { op: 'delete', errno: 'EBUSY', count: 0 })).rejects.toThrow(
      'fault count 0 must be a positive integer',
    );
    await expect(simFail(s.dir, 'nvme01', { op: 'delete', errno: 'EBUSY' })).rejects.toMatchObject({
      code: 'EINVALID_DEVICE',
    });
    expect(simFaults(s.dir)).toEqual([]);
  });

  it('setting a fault again replaces it; clearing without a device clears all', async () => {
    const s = await twoControllers();
    await simFail(s.dir, 'nvme0', { op: 'delete', errno: 'EBUSY' });
    await simFail(s.dir, 'nvme1', { op: 'delete', errno: 'EIO' });
    await simFail(s.dir, 'nvme0', { op: 'delete', errno: 'ENOMEM', count: 1 });
    expect(simFaults(s.dir)).toEqual([
      { device: 'nvme1', op: 'delete', errno: 'EIO', remaining: null },
      { device: 'nvme0', op: 'delete', errno: 'ENOMEM', remaining: 1 },
    ]);
    expect(await simClearFaults(s.dir)).toEqual([]);
    await s.kernel.deleteController('nvme0');
    await s.kernel.deleteController('nvme1');
    expect(await s.kernel.listControllers()).toEqual([]);
  });
});
