import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/engine/connect.js';
import { publishHooks } from '../../src/registry/registry.js';
import { makeSim, NQN_A, type SimHost } from './sim-helpers.js';

/**
 * DESIGN §4 race 5 through the engine: a lock-less remover (upstream's udev rule for the old
 * controller of a recycled instance) deletes the stale entry while connect's create() is
 * between its lstat and its rename. The connect succeeds and keeps its controller.
 */
let h: SimHost;
beforeEach(async () => {
  h = await makeSim();
});
afterEach(() => {
  delete publishHooks.beforeRename;
  h.close();
});

describe('owned connect over a stale entry that a lock-less remover deletes meanwhile', () => {
  it('records the owner and keeps the new controller', async () => {
    h.registry.create('nvme0', { owner: 'ghost', seqnum: 1 });
    const attempts: number[] = [];
    publishHooks.beforeRename = (device, attempt) => {
      attempts.push(attempt);
      if (attempt === 1) fs.rmSync(path.join(h.registry.root, device), { recursive: true });
    };
    const r = await connect(
      h.ctx,
      { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A },
      {
        owner: 'stas',
      },
    );
    expect(attempts).toEqual([1, 2]);
    expect(r).toMatchObject({ device: 'nvme0', owner: 'stas', reused: false });
    expect(await h.kernel.controller('nvme0')).not.toBeNull();
    expect(h.registry.read('nvme0')).toMatchObject({ owner: 'stas' });
    expect(h.events.some((e) => e.action === 'connect-failed')).toBe(false);
  });
});
