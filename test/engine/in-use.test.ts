import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/engine/connect.js';
import { disconnect, executeDisconnectAll, planFromHost } from '../../src/engine/disconnect.js';
import { inUseFacts } from '../../src/engine/in-use.js';
import type { DisconnectAllPolicy } from '../../src/engine/plan.js';
import { isNvmfError } from '../../src/errors.js';
import {
  SimKernel,
  simHold,
  simMount,
  simPendingEvents,
  simRoots,
  simScanSettle,
  simSwapon,
  simUmount,
} from '../../src/kernel/sim.js';
import { makeSim, type SimHost } from './sim-helpers.js';

/**
 * The in-use guard on the simulated host (native multipath, as Linux's default). Subsystem
 * MP is exported on two ports, so nvme0 and nvme1 are two paths of head nvme0n1; subsystem
 * ONE has one path, nvme2, with head nvme2n1. Each namespace carries two partitions.
 */
const MP = 'nqn.2024-01.io.example:mp';
const ONE = 'nqn.2024-01.io.example:one';
const TARGETS = {
  subsystems: [
    {
      nqn: MP,
      ports: [
        { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' },
        { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4421' },
      ],
      namespaces: 1,
      partitions: 2,
    },
    {
      nqn: ONE,
      ports: [{ transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420' }],
      namespaces: 1,
      partitions: 2,
    },
  ],
  discovery: [],
};

let host: SimHost | undefined;
afterEach(() => {
  host?.close();
  host = undefined;
});

async function threeControllers(): Promise<SimHost> {
  const h = await makeSim(undefined, TARGETS);
  for (const [nqn, trsvcid, traddr] of [
    [MP, '4420', '10.0.0.1'],
    [MP, '4421', '10.0.0.1'],
    [ONE, '4420', '10.0.0.2'],
  ] as const) {
    await connect(h.ctx, { transport: 'tcp', traddr, trsvcid, nqn });
  }
  await simScanSettle(h.dir, { now: true });
  return h;
}

type Setup = (dir: string) => Promise<unknown>;

/** Each row: what the host does with its disks, then the plain plan's action and reason per controller. */
const ROWS: [string, Setup, Record<string, string>][] = [
  ['nothing used', async () => undefined, { nvme0: 'disconnect', nvme1: 'disconnect', nvme2: 'disconnect' }],
  [
    'mounted head',
    (d) => simMount(d, 'nvme2n1', '/data'),
    { nvme0: 'disconnect', nvme1: 'disconnect', nvme2: 'in use: nvme2n1 mounted at /data' },
  ],
  [
    'partition mounted',
    (d) => simMount(d, 'nvme2n1p1', '/data'),
    { nvme2: 'in use: nvme2n1p1 mounted at /data' },
  ],
  [
    'holder dm-0 over a partition, mounted',
    async (d) => {
      await simHold(d, 'nvme2n1p1', 'dm-0');
      await simMount(d, 'dm-0', '/mnt');
    },
    { nvme2: 'in use: nvme2n1p1 held by dm-0 mounted at /mnt' },
  ],
  [
    'holders two deep (md0 over dm-0), mounted',
    async (d) => {
      await simHold(d, 'nvme2n1', 'dm-0');
      await simHold(d, 'dm-0', 'md0');
      await simMount(d, 'md0', '/srv');
    },
    { nvme2: 'in use: nvme2n1 held by dm-0 held by md0 mounted at /srv' },
  ],
  ['a holder nobody mounts', (d) => simHold(d, 'nvme2n1', 'dm-0'), { nvme2: 'disconnect' }],
  ['swap on a partition', (d) => simSwapon(d, 'nvme2n1p2'), { nvme2: 'in use: nvme2n1p2 active swap' }],
  ['root filesystem', (d) => simMount(d, 'nvme2n1', '/'), { nvme2: 'in use: nvme2n1 mounted at /' }],
  [
    'mounted then unmounted',
    async (d) => {
      await simMount(d, 'nvme2n1', '/data');
      await simUmount(d, '/data');
    },
    { nvme2: 'disconnect' },
  ],
  [
    'two paths, mounted head: the first may go, the last is refused',
    (d) => simMount(d, 'nvme0n1', '/data'),
    { nvme0: 'disconnect', nvme1: 'in use: nvme0n1 mounted at /data', nvme2: 'disconnect' },
  ],
  [
    'two uses of one head',
    async (d) => {
      await simMount(d, 'nvme2n1p1', '/a');
      await simSwapon(d, 'nvme2n1p2');
    },
    { nvme2: 'in use: nvme2n1p1 mounted at /a (+1 more)' },
  ],
];

function summary(plan: { device: string; action: string; reason: string }[]): Record<string, string> {
  return Object.fromEntries(plan.map((i) => [i.device, i.action === 'skip' ? i.reason : i.action]));
}

describe('disconnect-all plan: the in-use pass', () => {
  it.each(ROWS)('%s', async (_name, setup, want) => {
    host = await threeControllers();
    await setup(host.dir);
    const plan = await planFromHost(host.ctx, {});
    expect(summary(plan)).toMatchObject(want);
    for (const item of plan) {
      // JSON facts exactly on the in-use skips
      expect(item.inUse !== undefined).toBe(item.reason.startsWith('in use: '));
    }
  });

  it('carries the facts of each use', async () => {
    host = await threeControllers();
    await simHold(host.dir, 'nvme2n1p1', 'dm-0');
    await simMount(host.dir, 'dm-0', '/mnt');
    await simSwapon(host.dir, 'nvme2n1p2');
    const item = (await planFromHost(host.ctx, {})).find((i) => i.device === 'nvme2');
    expect(item?.inUse).toEqual([
      { disk: 'nvme2n1', device: 'nvme2n1p1', holders: ['dm-0'], use: 'mounted', mountPoint: '/mnt' },
      { disk: 'nvme2n1', device: 'nvme2n1p2', use: 'swap' },
    ]);
  });

  it('two paths of an unmounted head both go; mounted, --force keeps the last and --ignore-in-use does not', async () => {
    host = await threeControllers();
    const policies: [DisconnectAllPolicy, Record<string, string>][] = [
      [{ force: true }, { nvme0: 'disconnect', nvme1: 'in use: nvme0n1 mounted at /data' }],
      [
        { force: true, ignoreInUse: true },
        { nvme0: 'disconnect', nvme1: 'disconnect' },
      ],
      [{ ignoreInUse: true }, { nvme0: 'disconnect', nvme1: 'disconnect' }],
    ];
    expect(summary(await planFromHost(host.ctx, {}))).toMatchObject({
      nvme0: 'disconnect',
      nvme1: 'disconnect',
    });
    await simMount(host.dir, 'nvme0n1', '/data');
    for (const [policy, want] of policies)
      expect(summary(await planFromHost(host.ctx, policy))).toMatchObject(want);
  });

  it('a path whose controller is not live does not keep a mounted head safe', async () => {
    host = await threeControllers();
    await simMount(host.dir, 'nvme0n1', '/data');
    // nvme1's path loses its target: it reconnects (state connecting), its path disk stays
    const { simTargetDown } = await import('../../src/kernel/sim.js');
    await simTargetDown(host.dir, MP, { port: { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4421' } });
    const plan = summary(await planFromHost(host.ctx, { force: true }));
    expect(plan).toMatchObject({ nvme0: 'in use: nvme0n1 mounted at /data', nvme1: 'disconnect' });
  });

  it('unreadable mountinfo: every controller is in use (fail-safe)', async () => {
    host = await threeControllers();
    const emptyProc = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-noproc-'));
    const kernel = new SimKernel({ dir: host.dir, roots: { ...simRoots(host.dir), proc: emptyProc } });
    try {
      for (const policy of [{}, { force: true }]) {
        const plan = await planFromHost({ kernel, registry: host.registry }, policy);
        for (const i of plan) {
          expect(i.action).toBe('skip');
          expect(i.reason).toMatch(/^in use: cannot read mounts \(.*mountinfo: ENOENT\) \(\+1 more\)$/);
          expect(i.inUse?.[0]).toMatchObject({ use: 'unknown' });
        }
      }
      const ignored = await planFromHost({ kernel, registry: host.registry }, { ignoreInUse: true });
      expect(ignored.every((i) => i.action === 'disconnect')).toBe(true);
    } finally {
      kernel.close();
      fs.rmSync(emptyProc, { recursive: true, force: true });
    }
  });
});

describe('a sysfs without device numbers', () => {
  it('cannot match mounts to disks: every controller is in use', async () => {
    host = await threeControllers();
    fs.rmSync(path.join(host.dir, 'sys', 'dev', 'block'), { recursive: true });
    for (const i of await planFromHost(host.ctx, {})) {
      expect(i.reason).toMatch(/^in use: cannot read block device numbers \(.*dev\/block is missing\)$/);
    }
  });
});

describe('disconnect-all execution re-checks in use', () => {
  it('a filesystem mounted between plan and execution makes its controller skip', async () => {
    host = await threeControllers();
    const plan = await planFromHost(host.ctx, {});
    expect(plan.every((i) => i.action === 'disconnect')).toBe(true);
    await simMount(host.dir, 'nvme2n1p1', '/late');
    const done = await executeDisconnectAll(plan, { ...host.ctx, concurrency: 4 });
    const nvme2 = done.plan.find((i) => i.device === 'nvme2');
    expect(nvme2).toMatchObject({ action: 'skip', reason: 'in use: nvme2n1p1 mounted at /late' });
    expect(nvme2?.inUse).toEqual([
      { disk: 'nvme2n1', device: 'nvme2n1p1', use: 'mounted', mountPoint: '/late' },
    ]);
    expect(done.results.map((r) => r.device).sort()).toEqual(['nvme0', 'nvme1']);
    expect((await host.kernel.listControllers()).map((c) => c.device)).toEqual(['nvme2']);
    const skipped = host.events.filter((e) => e.action === 'disconnect-all-skip');
    expect(skipped.map((e) => e.reason)).toContain('in use: nvme2n1p1 mounted at /late');
  });

  it('two planned paths of a head mounted under the lock: one goes, the last stays', async () => {
    host = await threeControllers();
    const plan = (await planFromHost(host.ctx, {})).filter((i) => i.device !== 'nvme2');
    expect(plan.map((i) => i.action)).toEqual(['disconnect', 'disconnect']);
    let mounted = false;
    const done = await executeDisconnectAll(plan, {
      ...host.ctx,
      concurrency: 1,
      // the pause point: nvme0's re-check has not run yet, its device lock is held
      beforeRecheck: async (device) => {
        if (device === 'nvme0' && !mounted) {
          mounted = true;
          await simMount(host!.dir, 'nvme0n1', '/data');
        }
      },
    });
    expect(mounted).toBe(true);
    expect(summary(done.plan)).toEqual({ nvme0: 'in use: nvme0n1 mounted at /data', nvme1: 'disconnect' });
    expect(done.results).toEqual([{ device: 'nvme1', ok: true }]);
    // the head keeps its last path
    const snap = await host.kernel.hostSnapshot();
    expect(snap.disks['nvme0n1']?.paths).toEqual(['nvme0']);
  });

  it('--ignore-in-use does not re-check; Linux deletes a controller under a mounted filesystem', async () => {
    host = await threeControllers();
    await simMount(host.dir, 'nvme2n1', '/data');
    const plan = await planFromHost(host.ctx, { ignoreInUse: true, force: true });
    const done = await executeDisconnectAll(plan, { ...host.ctx, force: true, ignoreInUse: true });
    expect(done.results.every((r) => r.ok)).toBe(true);
    const snap = await host.kernel.hostSnapshot();
    expect(snap.controllers).toEqual([]);
    expect(snap.blocks['nvme2n1']).toBeUndefined();
    // the filesystem stays mounted on the vanished device, as on Linux
    expect(snap.mounts.some((m) => m.mountPoint === '/data')).toBe(true);
  });
});

describe('targeted disconnect', () => {
  it('refuses an in-use controller with the facts; ignoreInUse disconnects it', async () => {
    host = await threeControllers();
    await simSwapon(host.dir, 'nvme2n1');
    let err: unknown;
    try {
      await disconnect(host.ctx, 'nvme2');
    } catch (e) {
      err = e;
    }
    expect(isNvmfError(err, 'EIN_USE')).toBe(true);
    expect((err as Error).message).toContain('in use: nvme2n1 active swap');
    expect((err as { details: Record<string, unknown> }).details['inUse']).toEqual([
      { disk: 'nvme2n1', device: 'nvme2n1', use: 'swap' },
    ]);
    expect(await host.kernel.controller('nvme2')).not.toBeNull();
    await disconnect(host.ctx, 'nvme2', { ignoreInUse: true });
    expect(await host.kernel.controller('nvme2')).toBeNull();
  });

  it('one path of a mounted multipath head may go, the last is refused', async () => {
    host = await threeControllers();
    await simMount(host.dir, 'nvme0n1p2', '/data');
    await disconnect(host.ctx, 'nvme1');
    await expect(disconnect(host.ctx, 'nvme0')).rejects.toThrow(/in use: nvme0n1p2 mounted at \/data/);
  });
});

describe('host snapshot readers', () => {
  /** What the re-check's read of `device` alone shows of it must be what the whole-host read shows. */
  async function sameAsWholeHost(h: SimHost, device: string): Promise<void> {
    const whole = await h.kernel.hostSnapshot();
    const one = await h.kernel.hostSnapshot([device]);
    expect(one.unreadable).toEqual([]);
    expect(one.namespaces[device]).toEqual(whole.namespaces[device]);
    for (const disk of whole.namespaces[device] ?? []) expect(one.disks[disk]).toEqual(whole.disks[disk]);
    expect(inUseFacts(one, device, new Set())).toEqual(inUseFacts(whole, device, new Set()));
  }

  it("the re-check's read of one controller sees its disks and their paths as the whole-host read does", async () => {
    host = await threeControllers();
    await simMount(host.dir, 'nvme0n1p1', '/data');
    await simMount(host.dir, 'nvme2n1', '/srv');
    // nvme2's head left without paths (6.16's delayed removal), made by hand: its path disk
    // goes, the head stays; the whole-host read gives it to nvme2, the subsystem's instance
    const sys = path.join(host.dir, 'sys');
    fs.rmSync(path.join(sys, 'devices', 'virtual', 'nvme-fabrics', 'ctl', 'nvme2', 'nvme2c2n1'), {
      recursive: true,
    });
    fs.rmSync(path.join(sys, 'block', 'nvme2c2n1'));
    const whole = await host.kernel.hostSnapshot();
    expect(whole.namespaces['nvme2']).toEqual(['nvme2n1']);
    expect(whole.disks['nvme2n1']?.paths).toEqual(['nvme2']);
    for (const d of ['nvme0', 'nvme1', 'nvme2']) await sameAsWholeHost(host, d);
    host.close();

    host = await makeSim({ multipath: false }, TARGETS);
    for (const trsvcid of ['4420', '4421']) {
      await connect(host.ctx, { transport: 'tcp', traddr: '10.0.0.1', trsvcid, nqn: MP });
    }
    await simScanSettle(host.dir, { now: true });
    await simMount(host.dir, 'nvme1n1p2', '/data');
    for (const d of ['nvme0', 'nvme1']) await sameAsWholeHost(host, d);
  });

  it("a controller directory that cannot be listed makes the re-check's read unreadable, not empty", async () => {
    host = await threeControllers();
    // a class link that loops (ELOOP): not "gone" (ENOENT), so not "no disks" either
    const link = path.join(host.dir, 'sys', 'class', 'nvme', 'nvme2');
    fs.unlinkSync(link);
    fs.symlinkSync('nvme2', link);
    const one = await host.kernel.hostSnapshot(['nvme2']);
    expect(one.unreadable.join('; ')).toMatch(/^disks of nvme2 \(.*: ELOOP\)/);
    expect(inUseFacts(one, 'nvme2', new Set()).map((f) => f.use)).toEqual(['unknown']);
  });

  it('without multipath each controller has its own disk and partitions', async () => {
    host = await makeSim({ multipath: false }, TARGETS);
    for (const trsvcid of ['4420', '4421']) {
      await connect(host.ctx, { transport: 'tcp', traddr: '10.0.0.1', trsvcid, nqn: MP });
    }
    await simScanSettle(host.dir, { now: true });
    const snap = await host.kernel.hostSnapshot();
    expect(snap.namespaces).toEqual({ nvme0: ['nvme0n1'], nvme1: ['nvme1n1'] });
    expect(snap.disks['nvme1n1']?.paths).toEqual(['nvme1']);
    await simMount(host.dir, 'nvme1n1p2', '/data');
    expect(summary(await planFromHost(host.ctx, {}))).toEqual({
      nvme0: 'disconnect',
      nvme1: 'in use: nvme1n1p2 mounted at /data',
    });
  });

  it('parse mountinfo and swaps as procfs writes them, escapes included', async () => {
    const { parseMountinfo, parseSwaps } = await import('../../src/kernel/block.js');
    expect(
      parseMountinfo(
        '21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n' +
          '99 21 259:4 /sub /mnt/a\\040b rw master:3 shared:9 - xfs /dev/nvme1n1p1 rw\n' +
          'junk line\n',
      ),
    ).toEqual([
      { dev: '8:1', mountPoint: '/', fstype: 'ext4', source: '/dev/sda1', device: null },
      { dev: '259:4', mountPoint: '/mnt/a b', fstype: 'xfs', source: '/dev/nvme1n1p1', device: null },
    ]);
    expect(
      parseSwaps(
        'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n/swap\\040file file\t1024\t0\t-3\n',
      ),
    ).toEqual([
      { path: '/dev/dm-1', device: 'dm-1' },
      { path: '/swap file', device: null },
    ]);
  });

  it('a filesystem on an anonymous device (btrfs) is matched by its /dev source', async () => {
    host = await threeControllers();
    await simMount(host.dir, 'nvme2n1', '/data');
    // rewrite the line as btrfs shows it: major 0, the source names the device
    const file = path.join(host.dir, 'proc', 'self', 'mountinfo');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/ 259:\d+ \/ \/data /, ' 0:45 / /data '));
    expect(summary(await planFromHost(host.ctx, {}))).toMatchObject({
      nvme2: 'in use: nvme2n1 mounted at /data',
    });
  });

  it('partitions are announced after their disk and removed before it, as device_add_disk and del_gendisk do', async () => {
    host = await makeSim(undefined, TARGETS);
    await connect(host.ctx, { transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420', nqn: ONE });
    await simScanSettle(host.dir, { now: true });
    const block = (action: string): string[] =>
      simPendingEvents(host!.dir)
        .filter((e) => e.action === action && (e.subsystem === 'block' || e.subsystem === 'nvme-generic'))
        .map((e) => e.kernel);
    expect(block('add')).toEqual(['nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'ng0n1']);
    await disconnect(host.ctx, 'nvme0');
    expect(block('remove')).toEqual(['ng0n1', 'nvme0n1p1', 'nvme0n1p2', 'nvme0n1']);
  });
});
