import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { LOCK_STALE_MS, lockPath, withDeviceLock } from '../../src/registry/index.js';
import { bundleRegistry, type Sandbox, sandbox } from './helpers.js';

// Our lock takes the uncontended path with a plain mkdir; proper-lockfile (and the udev
// helper's mkdir) must still see the same lock, both ways.
let sb: Sandbox;
let bundle: string;
beforeAll(() => {
  sb = sandbox();
  bundle = bundleRegistry(sb.base);
});
afterAll(() => sb.cleanup());

const plOptions = (lp: string) => ({ lockfilePath: lp, realpath: false, stale: LOCK_STALE_MS });

describe('lock interop with proper-lockfile', () => {
  it("a lock held through proper-lockfile's async lock() blocks ours until released", async () => {
    const reg = sb.open({ lockTimeoutMs: 300 });
    reg.create('nvme3', { owner: 'a', seqnum: 1 });
    const lp = lockPath(sb.root, 'nvme3');
    const release = await lockfile.lock(path.join(sb.root, 'nvme3'), plOptions(lp));
    let err: unknown;
    try {
      reg.claim('nvme3', 'b');
    } catch (e) {
      err = e;
    }
    expect(isNvmfError(err, 'ELOCKED')).toBe(true);
    expect(reg.readAttr('nvme3', 'owner')).toBe('a');
    await release();
    expect(reg.claim('nvme3', 'b')).toEqual({ prevOwner: 'a', created: false });
    expect(fs.existsSync(lp)).toBe(false);
  });

  it('ours blocks proper-lockfile, in this process and from another one', async () => {
    const lp = lockPath(sb.root, 'nvme4');
    const file = path.join(sb.root, 'nvme4');
    withDeviceLock(sb.root, 'nvme4', () => {
      expect(() => lockfile.lockSync(file, plOptions(lp))).toThrow(
        expect.objectContaining({ code: 'ELOCKED' }),
      );
      expect(lockfile.checkSync(file, plOptions(lp))).toBe(true);
    });
    expect(lockfile.checkSync(file, plOptions(lp))).toBe(false);

    // A child holds ours until told to let go; proper-lockfile's async lock() must be refused meanwhile.
    const marker = path.join(sb.base, 'held');
    const letGo = path.join(sb.base, 'let-go');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { withDeviceLock } = require(${JSON.stringify(bundle)});
         withDeviceLock(${JSON.stringify(sb.root)}, 'nvme4', () => {
           const fs = require('node:fs');
           fs.writeFileSync(${JSON.stringify(marker)}, '1');
           const until = Date.now() + 120000;
           while (!fs.existsSync(${JSON.stringify(letGo)}) && Date.now() < until)
             Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
         });`,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      while (!fs.existsSync(marker)) await new Promise((r) => setTimeout(r, 10));
      await expect(lockfile.lock(file, plOptions(lp))).rejects.toMatchObject({ code: 'ELOCKED' });
    } finally {
      fs.writeFileSync(letGo, '1');
      await exited;
    }
    const release = await lockfile.lock(file, plOptions(lp));
    await release();
  });

  it("a crashed proper-lockfile holder's lock goes stale and ours takes it over", async () => {
    const reg = sb.open();
    reg.create('nvme5', { owner: 'a', seqnum: 1 });
    const lp = lockPath(sb.root, 'nvme5');
    await lockfile.lock(path.join(sb.root, 'nvme5'), {
      ...plOptions(lp),
      update: 60_000,
      onCompromised: () => {},
    });
    const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
    fs.utimesSync(lp, old, old);
    expect(reg.claim('nvme5', 'b')).toEqual({ prevOwner: 'a', created: false });
    expect(fs.existsSync(lp)).toBe(false);
  });
});
