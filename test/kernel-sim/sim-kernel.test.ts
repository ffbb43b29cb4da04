import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import {
  kernelFromEnv,
  type SimKernel,
  simExpireController,
  simInit,
  simPendingEvents,
} from '../../src/kernel/sim.js';
import { connectString } from './facts.js';
import { newSim, TARGET, TARGETS, tmpDir } from './helpers.js';

describe('simulated kernel', () => {
  let k: SimKernel | undefined;
  afterEach(() => k?.close());

  it('EIO when the host NQN is not allowed; allowed host connects with its namespaces', async () => {
    const s = await newSim();
    k = s.kernel;
    const nqn = 'nqn.2024-01.io.nvmf-registry:private';
    await expect(s.kernel.connect(connectString(TARGET, nqn))).rejects.toMatchObject({
      code: 'EKERNEL',
      details: { errno: 'EIO' },
    });
    const r = await s.kernel.connect(
      connectString(TARGET, nqn, ',hostnqn=nqn.2024-01.io.nvmf-registry:host-a'),
    );
    expect(await s.kernel.namespaces(`nvme${r.instance}`)).toEqual([
      `nvme${r.instance}n1`,
      `nvme${r.instance}n2`,
    ]);
    expect((await s.kernel.controller(`nvme${r.instance}`))?.hostnqn).toBe(
      'nqn.2024-01.io.nvmf-registry:host-a',
    );
  });

  it('a failed connect creates and removes the controller (add + remove events), like the kernel', async () => {
    const s = await newSim();
    k = s.kernel;
    const s0 = s.kernel.ueventSeqnum();
    await expect(s.kernel.connect(connectString({ ...TARGET, trsvcid: '4999' }, TARGET.nqn))).rejects.toThrow(
      /refused/,
    );
    expect(s.kernel.ueventSeqnum() - s0).toBe(2);
    expect(simPendingEvents(s.dir).map((e) => `${e.action} ${e.kernel}`)).toEqual([
      'add nvme0',
      'remove nvme0',
    ]);
    expect(await s.kernel.listControllers()).toEqual([]);
  });

  it('errors never contain secrets from the option string', async () => {
    const s = await newSim();
    k = s.kernel;
    const secret = 'DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:';
    const err = await s.kernel
      .connect(connectString({ ...TARGET, trsvcid: '4999' }, TARGET.nqn, `,dhchap_secret=${secret}`))
      .catch((e) => e);
    expect(isNvmfError(err, 'EKERNEL')).toBe(true);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('c2VjcmV0');
    const junk = await s.kernel.connect(`nqn=${TARGET.nqn},transport=tcp,bogus=${secret}`).catch((e) => e);
    expect(JSON.stringify({ m: junk.message, d: junk.details })).not.toContain('c2VjcmV0');
  });

  it('the controller is in sysfs as connecting before the connect reply', async () => {
    const s = await newSim({ latency: { connectMs: 200, deleteMs: 0 } });
    k = s.kernel;
    const p = s.kernel.connect(connectString(TARGET, TARGET.nqn));
    let seen: string | undefined;
    for (let i = 0; i < 100 && seen === undefined; i++) {
      seen = (await s.kernel.controller('nvme0'))?.state;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toBe('connecting');
    await p;
    expect((await s.kernel.controller('nvme0'))?.state).toBe('live');
  });

  it('concurrent deletes of 10 ms each overlap (latency is slept outside the lock)', async () => {
    const s = await newSim({ latency: { connectMs: 0, deleteMs: 100 } });
    k = s.kernel;
    for (let i = 0; i < 8; i++)
      await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',duplicate_connect'));
    const t0 = Date.now();
    await Promise.all((await s.kernel.listControllers()).map((c) => s.kernel.deleteController(c.device)));
    // sequential would be >= 800 ms
    expect(Date.now() - t0).toBeLessThan(700);
    expect(await s.kernel.listControllers()).toEqual([]);
  });

  it('kernel-initiated removal (ctrl-loss-tmo expiry) removes node, sysfs and queues the remove event', async () => {
    const s = await newSim();
    k = s.kernel;
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',ctrl_loss_tmo=2'));
    const s0 = s.kernel.ueventSeqnum();
    await simExpireController(s.dir, `nvme${r.instance}`);
    expect(s.kernel.deviceNodeExists(`nvme${r.instance}`)).toBe(false);
    expect(await s.kernel.controller(`nvme${r.instance}`)).toBeNull();
    expect(s.kernel.ueventSeqnum() - s0).toBe(6);
    expect(
      simPendingEvents(s.dir).some(
        (e) => e.action === 'remove' && e.kernel === `nvme${r.instance}` && e.seqnum > s0,
      ),
    ).toBe(true);
    await expect(s.kernel.deleteController(`nvme${r.instance}`)).rejects.toMatchObject({
      code: 'ENO_CONTROLLER',
    });
  });

  it('separate processes share one host: concurrent connects get distinct instances', async () => {
    const s = await newSim();
    k = s.kernel;
    const script = path.join(tmpDir('nvmf-child-'), 'child.mts');
    const simUrl = new URL('../../src/kernel/sim.ts', import.meta.url).href;
    fs.writeFileSync(
      script,
      `import { SimKernel } from ${JSON.stringify(simUrl)};\n` +
        `const k = new SimKernel({ dir: process.argv[2] });\n` +
        `const out = [];\n` +
        `for (let i = 0; i < 5; i++) out.push((await k.connect(process.argv[3])).instance);\n` +
        `k.close();\nconsole.log(JSON.stringify(out));\n`,
    );
    const tsx = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const run = (): Promise<number[]> =>
      new Promise((resolve, reject) => {
        const c = spawn(tsx, [script, s.dir, connectString(TARGET, TARGET.nqn, ',duplicate_connect')], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let o = '';
        c.stdout.on('data', (d: Buffer) => {
          o += d.toString();
        });
        c.on('close', (code) =>
          code === 0
            ? resolve(JSON.parse(o.trim().split('\n').pop() as string))
            : reject(new Error(`child ${code}`)),
        );
      });
    const [a, b] = await Promise.all([run(), run()]);
    const all = [...(a as number[]), ...(b as number[])].sort((x, y) => x - y);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await s.kernel.listControllers()).map((c) => c.instance)).toEqual(all);
  });

  it('kernelFromEnv: sim:DIR uses the sim and its roots; env roots override; linux otherwise', async () => {
    const dir = tmpDir();
    await simInit(dir, { targets: TARGETS });
    const a = await kernelFromEnv({ NVMF_KERNEL: `sim:${dir}` });
    expect(a.kernel.kind).toBe('sim');
    expect(a.roots).toEqual({
      sysfs: path.join(dir, 'sys'),
      dev: path.join(dir, 'dev'),
      registry: path.join(dir, 'run/nvme/registry'),
    });
    const b = await kernelFromEnv({ NVMF_KERNEL: `sim:${dir}`, NVMF_REGISTRY_ROOT: '/tmp/elsewhere' });
    expect(b.roots.registry).toBe('/tmp/elsewhere');
    (a.kernel as SimKernel).close();
    (b.kernel as SimKernel).close();
    const c = await kernelFromEnv({ NVMF_SYSFS_ROOT: '/tmp/x' });
    expect(c.kernel.kind).toBe('linux');
    expect(c.roots.sysfs).toBe('/tmp/x');
    await expect(kernelFromEnv({ NVMF_KERNEL: 'bogus' })).rejects.toMatchObject({ code: 'EINVALID_VALUE' });
  });

  it('supportedOptions lists what the sim advertises', async () => {
    const s = await newSim();
    k = s.kernel;
    const o = await s.kernel.supportedOptions();
    expect(o).toContain('ctrl_loss_tmo');
    expect(o).toContain('duplicate_connect');
    expect(o).not.toContain('instance');
  });
});
