import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/engine/connect.js';
import { executeDisconnectAll, planFromHost } from '../../src/engine/disconnect.js';
import { isNvmfError } from '../../src/errors.js';
import { lockWaitObserver } from '../../src/registry/lock.js';
import { makeSim, NQN_A, NQN_B, type SimHost } from './sim-helpers.js';

// DESIGN §4 race 7: a claim that reports success leaves a live controller owned by the
// claimer. disconnect-all holds the device lock from its re-check through the delete.

const A = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A } as const;
const B = { ...A, nqn: NQN_B } as const;

const noop = (): void => {};

let h: SimHost;
beforeEach(async () => {
  h = await makeSim();
  await connect(h.ctx, A, { owner: 'stas' }); // nvme0
  await connect(h.ctx, B); // nvme1, unowned: disconnect-all's candidate
});
afterEach(() => {
  lockWaitObserver.onBusy = undefined;
  h.close();
});

describe('reuse claim versus disconnect-all', () => {
  it('a claim made between the re-check and the delete waits for the delete, then fails', async () => {
    const plan = await planFromHost(h.ctx, {});
    expect(plan.map((p) => [p.device, p.action])).toEqual([
      ['nvme0', 'skip'],
      ['nvme1', 'disconnect'],
    ]);
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let reached!: () => void;
    const atDelete = new Promise<void>((r) => {
      reached = r;
    });
    const executing = executeDisconnectAll(plan, {
      kernel: h.kernel,
      registry: h.registry,
      audit: h.ctx.audit,
      beforeDelete: async () => {
        reached();
        await gate;
      },
    });
    await atDelete;

    // The re-check passed (nvme1 unowned); now a connect with an owner reuses nvme1.
    const waiting = new Promise<void>((r) => {
      lockWaitObserver.onBusy = (lp) => {
        if (lp.endsWith('/.nvme1.flock')) r();
      };
    });
    let settled = false;
    const claim = connect(h.ctx, B, { owner: 'late' }).then(
      (v) => {
        settled = true;
        return v;
      },
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    // Either it waits on nvme1's lock, or (the bug) it settles without waiting.
    await Promise.race([waiting, claim.then(noop, noop)]);
    expect(settled).toBe(false);
    expect(h.registry.read('nvme1')).toBeNull();

    open();
    expect((await executing).results).toEqual([{ device: 'nvme1', ok: true }]);
    let err: unknown;
    try {
      await claim;
    } catch (e) {
      err = e;
    }
    expect(isNvmfError(err, 'ENO_CONTROLLER'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/nvme1 was disconnected while this connect was reusing it/);
    expect(await h.kernel.controller('nvme1')).toBeNull();
    // Nothing was recorded for the claimer on a controller that is gone.
    expect(h.registry.read('nvme1')?.owner ?? null).toBeNull();
  });

  it('a claim that took the lock first wins: the re-check sees the owner and skips', async () => {
    const plan = await planFromHost(h.ctx, {});
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let inside!: () => void;
    const claimed = new Promise<void>((r) => {
      inside = r;
    });
    // Hold nvme1's lock across a claim, as a reuse does, while disconnect-all starts.
    const holding = h.registry.withLock('nvme1', async () => {
      h.registry.claim('nvme1', 'late', { expect: null, seqnum: h.kernel.ueventSeqnum() });
      inside();
      await gate;
    });
    await claimed;
    const waiting = new Promise<void>((r) => {
      lockWaitObserver.onBusy = (lp) => {
        if (lp.endsWith('/.nvme1.flock')) r();
      };
    });
    const executing = executeDisconnectAll(plan, { kernel: h.kernel, registry: h.registry });
    await waiting;
    open();
    await holding;
    const done = await executing;
    expect(done.results).toEqual([]);
    expect(done.plan[1]).toMatchObject({
      action: 'skip',
      reason: 'changed since planned: now owned by late',
    });
    expect(await h.kernel.controller('nvme1')).not.toBeNull();
    expect(h.registry.read('nvme1')?.owner).toBe('late');
  });
});
