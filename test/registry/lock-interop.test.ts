import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { lockPath, withDeviceLock, withDeviceLockAsync } from '../../src/registry/index.js';
import { runLockTakeover } from '../torture/lock-takeover.js';
import { bundleRegistry, type Sandbox, sandbox } from './helpers.js';
import { holdFlock } from './lock-holder.js';

const run = promisify(execFile);

// The library and the udev helper take one lock: flock(2) on <root>/.nvmeN.flock.
let sb: Sandbox;
beforeAll(() => {
  sb = sandbox();
});
afterAll(() => sb.cleanup());

/** Whether flock(1) from another process gets the lock without waiting. */
async function flockFree(lp: string): Promise<boolean> {
  try {
    await run('flock', ['-n', lp, 'true']);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === 1) return false;
    throw e;
  }
}

describe('lock interop with flock(1)', () => {
  it('a lock held by another process through flock(1) blocks ours until its holder is gone', async () => {
    const reg = sb.open({ lockTimeoutMs: 300 });
    reg.create('nvme3', { owner: 'a', seqnum: 1 });
    const holder = await holdFlock(lockPath(sb.root, 'nvme3'));
    let err: unknown;
    try {
      reg.claim('nvme3', 'b');
    } catch (e) {
      err = e;
    } finally {
      await holder.kill();
    }
    expect(isNvmfError(err, 'ELOCKED')).toBe(true);
    expect(reg.readAttr('nvme3', 'owner')).toBe('a');
    expect(reg.claim('nvme3', 'b')).toEqual({ prevOwner: 'a', created: false });
    expect(fs.existsSync(lockPath(sb.root, 'nvme3'))).toBe(false);
  });

  it('a library holder SIGKILLed inside its critical section: the next writer proceeds at once', async () => {
    const reg = sb.open({ lockTimeoutMs: 300 });
    reg.create('nvme5', { owner: 'a', seqnum: 1 });
    const lp = lockPath(sb.root, 'nvme5');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { withDeviceLock } = require(${JSON.stringify(bundleRegistry(sb.base))});
         withDeviceLock(${JSON.stringify(sb.root)}, 'nvme5', () => {
           process.stdout.write('held\\n');
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
         });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', () => reject(new Error('holder exited before taking the lock')));
    });
    expect(await flockFree(lp)).toBe(false);
    child.kill('SIGKILL');
    await exited;
    expect(reg.claim('nvme5', 'b')).toEqual({ prevOwner: 'a', created: false });
    expect(fs.existsSync(lp)).toBe(false);
  });

  it('ours blocks flock(1) in another process, sync and async alike', async () => {
    const lp = lockPath(sb.root, 'nvme4');
    let seen: boolean | undefined;
    // A synchronous holder cannot await: ask from a child and wait for it synchronously.
    withDeviceLock(sb.root, 'nvme4', () => {
      const r = spawnSync('flock', ['-n', lp, 'true']);
      seen = r.status === 0;
    });
    expect(seen).toBe(false);
    await withDeviceLockAsync(sb.root, 'nvme4', async () => {
      expect(await flockFree(lp)).toBe(false);
    });
    expect(fs.existsSync(lp)).toBe(false);
    expect(await flockFree(lp)).toBe(true);
  });

  it('inside an async hold, registry writes on the device re-enter; another sync take in this process fails at once', async () => {
    const reg = sb.open({ lockTimeoutMs: 2000 });
    reg.create('nvme6', { owner: 'a', seqnum: 1 });
    let outside: unknown;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const holding = reg.withLock('nvme6', async () => {
      await new Promise((r) => setImmediate(r));
      expect(reg.claim('nvme6', 'b', { expect: 'a' })).toEqual({ prevOwner: 'a', created: false });
      await gate;
    });
    await new Promise((r) => setImmediate(r));
    // Not part of the holding operation: a blocking wait would keep the holder from releasing.
    const t0 = Date.now();
    try {
      reg.claim('nvme6', 'c');
    } catch (e) {
      outside = e;
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(isNvmfError(outside, 'ELOCKED')).toBe(true);
    release();
    await holding;
    expect(reg.claim('nvme6', 'c', { expect: 'b' })).toEqual({ prevOwner: 'b', created: false });
  });
});

describe('what is at the lock path', () => {
  it.each([
    ['a symlink', (p: string) => fs.symlinkSync(`${p}.target`, p)],
    ['a directory', (p: string) => fs.mkdirSync(p)],
    ['a FIFO', (p: string) => spawnSync('mkfifo', [p])],
  ])('%s is an EIO naming the lock, nothing is followed or created', (_what, plant) => {
    const reg = sb.open({ lockTimeoutMs: 200 });
    reg.create('nvme7', { owner: 'a', seqnum: 1 });
    const lp = lockPath(sb.root, 'nvme7');
    plant(lp);
    try {
      let err: unknown;
      try {
        reg.claim('nvme7', 'b');
      } catch (e) {
        err = e;
      }
      expect(isNvmfError(err, 'EIO'), String(err)).toBe(true);
      expect((err as Error).message).toContain('.nvme7.flock');
      expect(reg.readAttr('nvme7', 'owner')).toBe('a');
      expect(fs.existsSync(`${lp}.target`)).toBe(false);
    } finally {
      fs.rmSync(lp, { recursive: true, force: true });
    }
  });
});

describe('forced takeover after a holder was SIGKILLed, three contenders', () => {
  it('library contenders (sync, async, sync): exactly one inside at a time', async () => {
    const counts = await runLockTakeover({ count: 300, mode: 'lib' });
    expect(counts).toEqual({ takeovers: 300, doubleWins: 0, errors: 0, leftoverLocks: 0 });
  });

  it('library and udev helper contenders: they exclude each other', async () => {
    const counts = await runLockTakeover({ count: 200, mode: 'mixed' });
    expect(counts).toEqual({ takeovers: 200, doubleWins: 0, errors: 0, leftoverLocks: 0 });
  });
});
