import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import {
  kernelFromEnv,
  SimKernel,
  simExpireController,
  simHoldDelete,
  simInit,
  simPendingEvents,
  simScanSettle,
} from '../../src/kernel/sim.js';
import { connectString } from './facts.js';
import { newSim, TARGET, TARGETS, tmpDir } from './helpers.js';

/** Poll `cond` until it holds (generous bound: the machine may be loaded). */
async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

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
    await simScanSettle(s.dir);
    expect(await s.kernel.namespaces(`nvme${r.instance}`)).toEqual([
      `nvme${r.instance}n1`,
      `nvme${r.instance}n2`,
    ]);
    expect((await s.kernel.controller(`nvme${r.instance}`))?.hostnqn).toBe(
      'nqn.2024-01.io.nvmf-registry:host-a',
    );
  });

  it('uevents of connect, scan and delete in the order measured on 6.1 (docs/kernel-tests.md)', async () => {
    const s = await newSim({ latency: { connectMs: 0, deleteMs: 0, scanMs: 60_000 } });
    k = s.kernel;
    const s0 = s.kernel.ueventSeqnum();
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    const atReply = s.kernel.ueventSeqnum();
    // the scan is queued, not run: no namespaces, no block devices yet
    expect(await s.kernel.namespaces('nvme0')).toEqual([]);
    expect(s.kernel.blockDeviceExists('nvme0n1')).toBe(false);
    expect(s.kernel.deviceNodeExists('nvme0')).toBe(true);
    expect(fs.readFileSync(path.join(s.dir, 'sys/class/nvme/nvme0/address'), 'utf8')).toBe(
      'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1\n',
    );
    await simScanSettle(s.dir, { now: true });
    expect(await s.kernel.namespaces('nvme0')).toEqual(['nvme0n1']);
    expect(s.kernel.blockDeviceExists('nvme0n1')).toBe(true);
    expect(fs.existsSync(path.join(s.dir, 'dev', 'ng0n1'))).toBe(true);
    const beforeDelete = s.kernel.ueventSeqnum();
    await s.kernel.deleteController(`nvme${r.instance}`);
    expect([atReply - s0, beforeDelete - s0, s.kernel.ueventSeqnum() - beforeDelete]).toEqual([4, 7, 6]);
    expect(
      simPendingEvents(s.dir).map((e) => `+${e.seqnum - s0 - 1} ${e.action} ${e.subsystem} ${e.devpath}`),
    ).toEqual([
      '+0 add nvme /devices/virtual/nvme-fabrics/ctl/nvme0',
      '+1 add nvme-subsystem /devices/virtual/nvme-subsystem/nvme-subsys0',
      '+2 add hwmon /devices/virtual/nvme-fabrics/ctl/nvme0/hwmon0',
      '+3 change nvme /devices/virtual/nvme-fabrics/ctl/nvme0',
      '+4 add bdi /devices/virtual/bdi/259:1',
      '+5 add block /devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1',
      '+6 add nvme-generic /devices/virtual/nvme-subsystem/nvme-subsys0/ng0n1',
      '+7 remove nvme-generic /devices/virtual/nvme-subsystem/nvme-subsys0/ng0n1',
      '+8 remove bdi /devices/virtual/bdi/259:1',
      '+9 remove block /devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1',
      '+10 remove hwmon /devices/virtual/nvme-fabrics/ctl/nvme0/hwmon0',
      '+11 remove nvme /devices/virtual/nvme-fabrics/ctl/nvme0',
      '+12 remove nvme-subsystem /devices/virtual/nvme-subsystem/nvme-subsys0',
    ]);
    expect(simPendingEvents(s.dir)[3]?.env).toEqual({ NVME_EVENT: 'connected' });
    expect(fs.readdirSync(path.join(s.dir, 'dev')).filter((n) => n !== 'nvme-fabrics')).toEqual([]);
  });

  it('a connect does not match a controller being deleted (nvmf_ctlr_matches_baseopts skips DELETING)', async () => {
    const s = await newSim({ latency: { connectMs: 0, deleteMs: 0 } });
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    const release = simHoldDelete(s.dir, `nvme${a.instance}`);
    let deleted = false;
    const del = s.kernel.deleteController(`nvme${a.instance}`).then(() => (deleted = true));
    const state = path.join(s.dir, 'sys/class/nvme', `nvme${a.instance}`, 'state');
    await waitFor(() => fs.readFileSync(state, 'utf8') === 'deleting\n');
    // Same target while the old controller is held in DELETING: a new controller, not EALREADY.
    const b = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    expect(b.instance).not.toBe(a.instance);
    expect(deleted).toBe(false);
    // A second one to the same target does match the live new controller.
    await expect(s.kernel.connect(connectString(TARGET, TARGET.nqn))).rejects.toMatchObject({
      details: { errno: 'EALREADY' },
    });
    release();
    await del;
    expect(fs.existsSync(path.join(s.dir, 'sys/class/nvme', `nvme${a.instance}`))).toBe(false);
    expect((await s.kernel.controller(`nvme${b.instance}`))?.state).toBe('live');
  });

  it('a second controller of a subsystem: no subsystem event, and the head announces itself once', async () => {
    const s = await newSim();
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    await simScanSettle(s.dir);
    const s0 = s.kernel.ueventSeqnum();
    const b = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',duplicate_connect'));
    await simScanSettle(s.dir);
    // both paths lead to the one head
    expect(await s.kernel.namespaces(`nvme${b.instance}`)).toEqual(['nvme0n1']);
    const s1 = s.kernel.ueventSeqnum();
    await s.kernel.deleteController(`nvme${a.instance}`);
    const s2 = s.kernel.ueventSeqnum();
    expect(s.kernel.blockDeviceExists('nvme0n1')).toBe(true);
    await s.kernel.deleteController(`nvme${b.instance}`);
    const line = (e: { seqnum: number; action: string; kernel: string }) => `${e.action} ${e.kernel}`;
    const evs = simPendingEvents(s.dir);
    expect(evs.filter((e) => e.seqnum > s0 && e.seqnum <= s1).map(line)).toEqual([
      'add nvme1',
      'add hwmon1',
      'change nvme1',
    ]);
    expect(evs.filter((e) => e.seqnum > s1 && e.seqnum <= s2).map(line)).toEqual([
      'remove hwmon0',
      'remove nvme0',
    ]);
    expect(evs.filter((e) => e.seqnum > s2).map(line)).toEqual([
      'remove ng0n1',
      'remove 259:1',
      'remove nvme0n1',
      'remove hwmon1',
      'remove nvme1',
      'remove nvme-subsys0',
    ]);
  });

  it('without multipath each controller has its own disk and generic device', async () => {
    const s = await newSim({ multipath: false });
    k = s.kernel;
    const s0 = s.kernel.ueventSeqnum();
    await s.kernel.connect(connectString(TARGET, TARGET.nqn0));
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    await simScanSettle(s.dir);
    expect(await s.kernel.namespaces(`nvme${r.instance}`)).toEqual(['nvme1n1']);
    expect(s.kernel.blockDeviceExists('nvme1n1')).toBe(true);
    expect(
      simPendingEvents(s.dir)
        .slice(-3)
        .map((e) => `${e.seqnum - s0} ${e.subsystem} ${e.devpath}`),
    ).toEqual([
      '9 bdi /devices/virtual/bdi/259:0',
      '10 block /devices/virtual/nvme-fabrics/ctl/nvme1/nvme1n1',
      '11 nvme-generic /devices/virtual/nvme-fabrics/ctl/nvme1/ng1n1',
    ]);
  });

  it('a scan left by a process that ended runs at the next operation, before its events', async () => {
    const s = await newSim({ latency: { connectMs: 0, deleteMs: 0, scanMs: 30 } });
    k = s.kernel;
    const other = new SimKernel({ dir: s.dir });
    await other.connect(connectString(TARGET, TARGET.nqn));
    other.close();
    await new Promise((r) => setTimeout(r, 40));
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn0));
    const evs = simPendingEvents(s.dir).map((e) => `${e.action} ${e.kernel}`);
    expect(evs.indexOf('add nvme0n1')).toBeGreaterThan(0);
    expect(evs.indexOf('add nvme0n1')).toBeLessThan(evs.indexOf(`add nvme${r.instance}`));
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
    // The first state a poll sees must be connecting. The window is the sim's connect
    // latency, made wide enough that a poll lands in it even on a starved machine.
    const s = await newSim({ latency: { connectMs: 3000, deleteMs: 0 } });
    k = s.kernel;
    const p = s.kernel.connect(connectString(TARGET, TARGET.nqn));
    let seen: string | undefined;
    while (seen === undefined) {
      seen = (await s.kernel.controller('nvme0'))?.state;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toBe('connecting');
    await p;
    expect((await s.kernel.controller('nvme0'))?.state).toBe('live');
  });

  it('concurrent deletes overlap (latency is slept outside the lock)', async () => {
    // 8 deletes of 2 s each: sequential would be >= 16 s; overlapped they need one latency
    // plus their lock-protected work, which even a starved machine does in far less than 14 s.
    const s = await newSim({ latency: { connectMs: 0, deleteMs: 2000 } });
    k = s.kernel;
    for (let i = 0; i < 8; i++)
      await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',duplicate_connect'));
    const t0 = Date.now();
    await Promise.all((await s.kernel.listControllers()).map((c) => s.kernel.deleteController(c.device)));
    expect(Date.now() - t0).toBeLessThan(14_000);
    expect(await s.kernel.listControllers()).toEqual([]);
  });

  it('kernel-initiated removal (ctrl-loss-tmo expiry) removes node, sysfs and queues the remove event', async () => {
    const s = await newSim();
    k = s.kernel;
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',ctrl_loss_tmo=2'));
    await simScanSettle(s.dir);
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
      proc: path.join(dir, 'proc'),
    });
    const b = await kernelFromEnv({
      NVMF_KERNEL: `sim:${dir}`,
      NVMF_REGISTRY_ROOT: '/tmp/elsewhere',
      NVMF_PROC_ROOT: '/tmp/noproc',
    });
    expect(b.roots.registry).toBe('/tmp/elsewhere');
    expect(b.roots.proc).toBe('/tmp/noproc');
    (a.kernel as SimKernel).close();
    (b.kernel as SimKernel).close();
    const c = await kernelFromEnv({ NVMF_SYSFS_ROOT: '/tmp/x' });
    expect(c.kernel.kind).toBe('linux');
    expect(c.roots.sysfs).toBe('/tmp/x');
    expect(c.roots.proc).toBe('/proc');
    await expect(kernelFromEnv({ NVMF_KERNEL: 'bogus' })).rejects.toMatchObject({ code: 'EINVALID_VALUE' });
  });

  it('discovery: nvmet ports list themselves first; a discovery-only service lists every port, then referrals', async () => {
    const dir = tmpDir();
    await simInit(dir, {
      targets: TARGETS,
      config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} } },
    });
    k = new SimKernel({ dir });
    const { decodeDiscoveryLog } = await import('../../src/nvme/discovery-log.js');
    const log = async (trsvcid: string, extra = '') => {
      const r = await (k as SimKernel).connect(
        connectString({ ...TARGET, trsvcid }, 'nqn.2014-08.org.nvmexpress.discovery', extra),
      );
      const entries = decodeDiscoveryLog(
        await (k as SimKernel).discoveryLogPage(`nvme${r.instance}`),
      ).entries;
      await (k as SimKernel).deleteController(`nvme${r.instance}`);
      return entries.map((e) => `${e.subtype} ${e.subnqn.split(':').pop()} ${e.traddr}:${e.trsvcid}`);
    };
    expect(await log('4420')).toEqual([
      '3 nqn.2014-08.org.nvmexpress.discovery 127.0.0.1:4420',
      '2 test 127.0.0.1:4420',
      '2 test0 127.0.0.1:4420',
    ]);
    // the host the private subsystem admits sees it too
    expect(await log('4420', ',hostnqn=nqn.2024-01.io.nvmf-registry:host-a')).toContain(
      '2 private 127.0.0.1:4420',
    );
    expect(await log('8009')).toEqual([
      '2 test 127.0.0.1:4420',
      '2 test0 127.0.0.1:4420',
      '2 private 127.0.0.1:4420',
      '1 nqn.2014-08.org.nvmexpress.discovery 192.0.2.7:8009',
    ]);
    await simInit(dir, {
      targets: {
        ...TARGETS,
        discovery: [
          {
            transport: 'tcp',
            traddr: '127.0.0.1',
            trsvcid: '4420',
            referrals: [{ transport: 'tcp', traddr: '192.0.2.9', trsvcid: '4420' }],
          },
        ],
      },
    });
    expect(await log('4420')).toEqual([
      '3 nqn.2014-08.org.nvmexpress.discovery 127.0.0.1:4420',
      '2 test 127.0.0.1:4420',
      '2 test0 127.0.0.1:4420',
      '1 nqn.2014-08.org.nvmexpress.discovery 192.0.2.9:4420',
    ]);
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
