import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/engine/connect.js';
import { lockWaitObserver } from '../../src/registry/lock.js';
import { makeSim, NQN_A, type SimHost } from './sim-helpers.js';

// Issue 12, point 7: no synchronous wait on the event loop in the library's async paths. A
// connect whose new controller's device lock is held elsewhere (the udev helper clearing
// the old entry of a recycled instance) awaits the lock: the event loop keeps running while
// it waits, and the entry is written once the holder lets go.

const A = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A } as const;

let h: SimHost;
let holder: ChildProcess | undefined;
beforeEach(async () => {
  h = await makeSim();
});
afterEach(() => {
  lockWaitObserver.onBusy = undefined;
  holder?.kill('SIGKILL');
  h.close();
});

/** Hold `file` with flock(1) (as the udev helper does) until its stdin closes. */
async function holdLock(file: string): Promise<ChildProcess> {
  const child = spawn('flock', [file, '-c', 'echo held; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve();
    });
  });
  return child;
}

describe('connect under a contended device lock', () => {
  it('awaits the lock: timers keep firing while it waits, then the entry is written', async () => {
    fs.mkdirSync(h.registry.root, { recursive: true });
    // The sim hands out the lowest free instance: this connect gets nvme0.
    holder = await holdLock(path.join(h.registry.root, '.nvme0.flock'));
    const waiting = new Promise<void>((r) => {
      lockWaitObserver.onBusy = (lp) => {
        if (lp.endsWith('/.nvme0.flock')) r();
      };
    });
    let settled = false;
    const connecting = connect(h.ctx, A, { owner: 'stas' }).finally(() => {
      settled = true;
    });
    await waiting;
    // A synchronous wait would starve these ticks until the lock timed out.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++ticks === 10) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    expect(settled).toBe(false);
    expect(h.registry.read('nvme0')).toBeNull();
    holder.stdin?.end();
    const r = await connecting;
    expect(r).toMatchObject({ device: 'nvme0', owner: 'stas', reused: false });
    expect(h.registry.read('nvme0')?.owner).toBe('stas');
  });
});
