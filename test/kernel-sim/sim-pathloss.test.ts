import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SimKernel,
  simDownLinks,
  simInit,
  simScanSettle,
  simTargetDown,
  simTargetUp,
} from '../../src/kernel/sim.js';
import { nvmf } from '../cli/helpers.js';
import { connectString } from './facts.js';
import { newSim, TARGET, tmpDir } from './helpers.js';

/** Poll `cond` until it holds (generous bound: the machine may be loaded). */
async function waitFor<T>(
  what: string,
  get: () => Promise<T> | T,
  cond: (v: T) => boolean,
  ms = 60_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (cond(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms (last ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const attr = (dir: string, device: string, name: string): string | null => {
  try {
    return fs.readFileSync(path.join(dir, 'sys/class/nvme', device, name), 'utf8').trim();
  } catch {
    return null;
  }
};

describe('simulated path loss', () => {
  let k: SimKernel | undefined;
  afterEach(() => k?.close());

  it('only the subsystem taken away loses its path; connects to it fail meanwhile; given back, it reconnects', async () => {
    const s = await newSim();
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',reconnect_delay=1'));
    const b = await s.kernel.connect(connectString(TARGET, TARGET.nqn0));
    await simScanSettle(s.dir);
    expect(await simTargetDown(s.dir, TARGET.nqn)).toEqual([
      { nqn: TARGET.nqn, transport: 'tcp', traddr: TARGET.traddr, trsvcid: TARGET.trsvcid },
    ]);
    expect(simDownLinks(s.dir)).toHaveLength(1);
    const down = await s.kernel.controller(`nvme${a.instance}`);
    expect(down?.state).toBe('connecting');
    expect(down?.rawAddress).toBe('traddr=127.0.0.1,trsvcid=4420');
    expect((await s.kernel.controller(`nvme${b.instance}`))?.state).toBe('live');
    // A connect that matches the reconnecting controller is EALREADY; one that does not reach
    // the subsystem (duplicate_connect) is refused by the target: EIO, and leaves nothing.
    await expect(s.kernel.connect(connectString(TARGET, TARGET.nqn))).rejects.toMatchObject({
      details: { errno: 'EALREADY' },
    });
    await expect(
      s.kernel.connect(connectString(TARGET, TARGET.nqn, ',duplicate_connect')),
    ).rejects.toMatchObject({ details: { errno: 'EIO' } });
    expect((await s.kernel.listControllers()).map((c) => c.device).sort()).toEqual(
      [`nvme${a.instance}`, `nvme${b.instance}`].sort(),
    );
    expect(await simTargetUp(s.dir, TARGET.nqn)).toEqual([]);
    const back = await waitFor(
      'live again',
      () => s.kernel.controller(`nvme${a.instance}`),
      (c) => c?.state === 'live',
    );
    expect(back?.rawAddress).toBe('traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1');
    expect(await s.kernel.namespaces(`nvme${a.instance}`)).toEqual([`nvme${a.instance}n1`]);
  });

  it('ctrl_loss_tmo=0 gives the controller up at once; sysfs shows attempts times delay', async () => {
    const s = await newSim();
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',reconnect_delay=2,ctrl_loss_tmo=3'));
    expect(attr(s.dir, `nvme${a.instance}`, 'ctrl_loss_tmo')).toBe('4');
    expect(attr(s.dir, `nvme${a.instance}`, 'reconnect_delay')).toBe('2');
    const d = await s.kernel.connect(connectString(TARGET, TARGET.nqn0));
    expect(attr(s.dir, `nvme${d.instance}`, 'ctrl_loss_tmo')).toBe('600');
    expect(attr(s.dir, `nvme${d.instance}`, 'reconnect_delay')).toBe('10');
    const f = await s.kernel.connect(
      connectString(TARGET, TARGET.nqn0, ',duplicate_connect,ctrl_loss_tmo=-1'),
    );
    expect(attr(s.dir, `nvme${f.instance}`, 'ctrl_loss_tmo')).toBe('off');
    await s.kernel.deleteController(`nvme${a.instance}`);
    const z = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',ctrl_loss_tmo=0'));
    await simTargetDown(s.dir, TARGET.nqn);
    expect(await s.kernel.controller(`nvme${z.instance}`)).toBeNull();
    expect(s.kernel.deviceNodeExists(`nvme${z.instance}`)).toBe(false);
  });

  it('reconnect_delay must be positive (EINVAL, as nvmf_parse_options)', async () => {
    const s = await newSim();
    k = s.kernel;
    await expect(
      s.kernel.connect(connectString(TARGET, TARGET.nqn, ',reconnect_delay=0')),
    ).rejects.toMatchObject({
      details: { errno: 'EINVAL' },
    });
  });

  it('a delete during the outage cancels the reconnect work; the link coming back finds nothing', async () => {
    const s = await newSim();
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',reconnect_delay=1'));
    await simTargetDown(s.dir, TARGET.nqn);
    await s.kernel.deleteController(`nvme${a.instance}`);
    expect(fs.readdirSync(path.join(s.dir, 'sim/recovery'))).toEqual([]);
    await simTargetUp(s.dir, TARGET.nqn);
    expect(await s.kernel.listControllers()).toEqual([]);
  });

  it('recovery steps that came due while no process looked run at the next query of any process', async () => {
    const s = await newSim();
    k = s.kernel;
    const a = await s.kernel.connect(connectString(TARGET, TARGET.nqn, ',reconnect_delay=1,ctrl_loss_tmo=1'));
    const dev = `nvme${a.instance}`;
    await s.kernel.targetDown(TARGET.nqn);
    s.kernel.close(); // no timer of this process runs any more
    const at = Number(fs.readFileSync(path.join(s.dir, 'sim/recovery', String(a.instance)), 'utf8'));
    await waitFor(
      'the attempt is due',
      () => Date.now(),
      (now) => now > at,
    );
    expect(attr(s.dir, dev, 'state')).toBe('connecting'); // nobody ran the step yet
    const other = new SimKernel({ dir: s.dir });
    try {
      expect(await other.controller(dev)).toBeNull();
    } finally {
      other.close();
    }
  });
});

describe('path loss through the CLI on a simulated host', () => {
  it('recovery keeps the entry; disconnect-all during the outage skips the owned controller; past ctrl-loss-tmo the rule cleans the entry', async () => {
    const base = tmpDir('nvmf-pathloss-');
    const dir = path.join(base, 'host');
    await simInit(dir, {
      targets: {
        subsystems: [
          {
            nqn: TARGET.nqn,
            transport: 'tcp',
            traddr: TARGET.traddr,
            trsvcid: TARGET.trsvcid,
            namespaces: 1,
          },
          {
            nqn: TARGET.nqn0,
            transport: 'tcp',
            traddr: TARGET.traddr,
            trsvcid: TARGET.trsvcid,
            namespaces: 0,
          },
        ],
      },
    });
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: base,
      NVMF_KERNEL: `sim:${dir}`,
      NVMF_ETC_ROOT: path.join(base, 'etc'),
      NVMF_AUDIT_SINK: 'stderr',
    };
    const tcp = ['-t', 'tcp', '-a', TARGET.traddr, '-s', TARGET.trsvcid];
    const run = (args: string[]) => {
      const r = nvmf(env, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    const json = <T>(args: string[]): T => JSON.parse(run([...args, '-o', 'json'])) as T;
    const owned = json<{ device: string }>([
      'connect',
      ...tcp,
      '-n',
      TARGET.nqn,
      '--owner',
      'kt',
      '-c',
      '1',
      '-l',
      '600',
    ]);
    const unowned = json<{ device: string }>(['connect', ...tcp, '-n', TARGET.nqn0]);
    const entry = path.join(dir, 'run/nvme/registry', owned.device);
    const stamp = fs.readFileSync(path.join(entry, 'seqnum'), 'utf8');

    run(['sim', 'target-down', dir, TARGET.nqn]);
    expect(attr(dir, owned.device, 'state')).toBe('connecting');
    const all = json<{ plan: { device: string; action: string }[] }>(['disconnect-all', '--yes']);
    expect(Object.fromEntries(all.plan.map((p) => [p.device, p.action]))).toEqual({
      [owned.device]: 'skip',
      [unowned.device]: 'disconnect',
    });
    run(['sim', 'target-up', dir, TARGET.nqn]);
    type List = { controllers: { device: string; state: string; owner: string | null }[] };
    const listed = await waitFor(
      'live again',
      () => json<List>(['list']),
      (l) => l.controllers.some((c) => c.device === owned.device && c.state === 'live'),
    );
    expect(listed.controllers.find((c) => c.device === owned.device)?.owner).toBe('kt');
    run(['sim', 'udev-settle', dir]);
    expect(fs.readFileSync(path.join(entry, 'seqnum'), 'utf8')).toBe(stamp);
    expect(fs.readFileSync(path.join(entry, 'owner'), 'utf8').trim()).toBe('kt');

    // Removal: a short ctrl-loss-tmo, the target away for good.
    run(['disconnect', '-d', owned.device]);
    const gone = json<{ device: string }>([
      'connect',
      ...tcp,
      '-n',
      TARGET.nqn,
      '--owner',
      'kt2',
      '-c',
      '1',
      '-l',
      '2',
    ]);
    const gEntry = path.join(dir, 'run/nvme/registry', gone.device);
    expect(fs.existsSync(gEntry)).toBe(true);
    run(['sim', 'target-down', dir, TARGET.nqn]);
    await waitFor(
      'removed by the kernel',
      () => json<List>(['list']),
      (l) => !l.controllers.some((c) => c.device === gone.device),
    );
    run(['sim', 'udev-settle', dir]);
    expect(fs.existsSync(gEntry)).toBe(false);
  }, 120_000);
});
