import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { simFaults } from '../../src/kernel/sim.js';
import { MAIN, nvmf } from './helpers.js';
import { NQN, tableHost } from './sim-host.js';

/**
 * Kernel failures of delete_controller through the real program: the fault is injected with
 * `nvmf sim fail` (stored in the sim's directory), then a separate `nvmf` process meets it.
 * tableHost: nvme0 unowned, nvme1 stas, nvme2 bob, nvme3 unreadable entry, nvme9 PCIe.
 */
const BUSY = 'disconnect nvme2: the controller is busy (being reset or deleted); retry later';

interface Out {
  plan: { device: string; action: string }[];
  results: ({ device: string; ok: true } | { device: string; ok: false; error: string })[];
}

async function hostWithFailing(device: string, errno: string, extra: string[] = []) {
  const host = await tableHost();
  const dir = host.env['NVMF_KERNEL']!.slice('sim:'.length);
  const r = nvmf(host.env, ['sim', 'fail', dir, device, '--delete', errno, ...extra, '-o', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return { host, dir, set: JSON.parse(r.stdout) as { faults: unknown[] } };
}

describe('partial failure of disconnect-all (exit 3)', () => {
  it('-o json: a result per controller, the failing one with ok:false and the error, the others gone', async () => {
    const { host, set } = await hostWithFailing('nvme2', 'EBUSY');
    expect(set.faults).toEqual([{ device: 'nvme2', op: 'delete', errno: 'EBUSY', remaining: null }]);
    const r = nvmf(host.env, ['disconnect-all', '--force', '--yes', '-o', 'json']);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as Out;
    expect(out.plan.filter((p) => p.action === 'disconnect').map((p) => p.device)).toEqual([
      'nvme0',
      'nvme1',
      'nvme2',
      'nvme3',
    ]);
    expect(out.results).toEqual([
      { device: 'nvme0', ok: true },
      { device: 'nvme1', ok: true },
      { device: 'nvme2', ok: false, error: BUSY },
      { device: 'nvme3', ok: true },
    ]);
    expect(await host.controllers()).toEqual(['nvme2', 'nvme9']);
    const failed = r.audit.find((a) => a['NVMF_ACTION'] === 'disconnect-failed');
    expect(failed).toMatchObject({ NVMF_DEVICE: 'nvme2', NVMF_ERROR: BUSY });
  });

  it('text: the plan, a line per controller with FAILED and the reason, a count on stderr', async () => {
    const { host } = await hostWithFailing('nvme2', 'EIO');
    const r = nvmf(host.env, ['disconnect-all', '--force', '--yes']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('nvme0: disconnected\n');
    expect(r.stdout).toContain(
      'nvme2: FAILED: disconnect nvme2: I/O error from the controller; check its state and the kernel log\n',
    );
    expect(r.stdout).toContain('nvme3: disconnected\n');
    expect(r.messages).toContain('1 of 4 disconnects failed');
    expect(await host.controllers()).toEqual(['nvme2', 'nvme9']);
  });

  it('the only chosen controller failing is still exit 3 with its result', async () => {
    const { host } = await hostWithFailing('nvme1', 'ENOMEM');
    const r = nvmf(host.env, ['disconnect-all', '--owner', 'stas', '--yes', '-o', 'json']);
    expect(r.code).toBe(3);
    expect((JSON.parse(r.stdout) as Out).results).toEqual([
      { device: 'nvme1', ok: false, error: 'disconnect nvme1: the kernel is out of memory' },
    ]);
    expect(await host.controllers()).toEqual(['nvme0', 'nvme1', 'nvme2', 'nvme3', 'nvme9']);
  });

  it('a fault with --count 1 fails once; the retry succeeds with exit 0', async () => {
    const { host, dir } = await hostWithFailing('nvme0', 'EBUSY', ['--count', '1']);
    expect(nvmf(host.env, ['disconnect-all', '--yes']).code).toBe(3);
    expect(nvmf(host.env, ['sim', 'fail', dir, '-o', 'json']).code).toBe(2);
    const retry = nvmf(host.env, ['disconnect-all', '--yes', '-o', 'json']);
    expect(retry.code).toBe(0);
    expect((JSON.parse(retry.stdout) as Out).results).toEqual([{ device: 'nvme0', ok: true }]);
  });
});

describe('disconnect of a failing controller (exit 1)', () => {
  it('prints the kernel reason naming the device and keeps the controller', async () => {
    const { host } = await hostWithFailing('nvme2', 'EBUSY');
    const r = nvmf(host.env, ['disconnect', '-d', 'nvme2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.messages).toBe(`nvmf: ${BUSY}`);
    expect(await host.controllers()).toContain('nvme2');
  });

  it('-o json: the error object with the kernel error code', async () => {
    const { host } = await hostWithFailing('nvme2', 'EACCES');
    const r = nvmf(host.env, ['disconnect', '-d', '/dev/nvme2', '-o', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.messages)).toEqual({
      error: {
        code: 'EKERNEL',
        message: 'disconnect nvme2: permission denied; NVMe fabrics operations need root (CAP_SYS_ADMIN)',
      },
    });
  });

  it('after nvmf sim fail --clear the same disconnect works', async () => {
    const { host, dir } = await hostWithFailing('nvme2', 'EBUSY');
    const c = nvmf(host.env, ['sim', 'fail', dir, '--clear']);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe('no injected faults\n');
    expect(nvmf(host.env, ['disconnect', '-d', 'nvme2']).code).toBe(0);
    expect(await host.controllers()).not.toContain('nvme2');
  });
});

describe('disconnect -n with several controllers, one failing (exit 3)', () => {
  it('a result per controller; the failing one stays', async () => {
    const { host } = await hostWithFailing('nvme4', 'EBUSY');
    // a second controller to vol1 (nvme0's subsystem): duplicate_connect gives it instance 4
    const c = nvmf(host.env, [
      'connect',
      ...['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', NQN(1), '-D', '-o', 'json'],
    ]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ device: 'nvme4' });
    const r = nvmf(host.env, ['disconnect', '-n', NQN(1), '-o', 'json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({
      results: [
        { device: 'nvme0', ok: true },
        {
          device: 'nvme4',
          ok: false,
          error: 'disconnect nvme4: the controller is busy (being reset or deleted); retry later',
        },
      ],
    });
    expect(await host.controllers()).toEqual(['nvme1', 'nvme2', 'nvme3', 'nvme4', 'nvme9']);
  });
});

describe('a counted fault is shared by concurrent processes', () => {
  it('8 concurrent disconnects against --count 20: 8 fail, exactly 12 uses remain', async () => {
    const { host, dir } = await hostWithFailing('nvme0', 'EBUSY', ['--count', '20']);
    const runs = await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const c = spawn(process.execPath, [MAIN, 'disconnect', '-d', 'nvme0'], { env: host.env });
            let stderr = '';
            c.stderr.on('data', (d: Buffer) => {
              stderr += d.toString();
            });
            c.on('close', (code) => resolve({ code, stderr }));
          }),
      ),
    );
    for (const r of runs) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('nvmf: disconnect nvme0: the controller is busy');
    }
    // no use lost, none consumed twice: the decrement is under the faults lock
    expect(simFaults(dir)).toEqual([{ device: 'nvme0', op: 'delete', errno: 'EBUSY', remaining: 12 }]);
    expect(await host.controllers()).toContain('nvme0');
  });
});

describe('nvmf sim fail: bad input', () => {
  it.each([
    [['nvme0', '--delete', 'ENOENT'], 'errno "ENOENT" cannot be injected into delete; use one of EBUSY'],
    [['nvme0', '--delete', 'EBUSY', '--count', '0'], 'expected a positive count, got "0"'],
    [['nvme0'], 'sim fail needs DEVICE and --delete ERRNO (or --clear)'],
    [['nvme0', '--clear', '--delete', 'EIO'], '--clear takes no --delete or --count'],
    [['nvme01', '--delete', 'EBUSY'], '"nvme01" is not a controller name'],
  ])('%j: exit 2 naming the problem', async (args, message) => {
    const host = await tableHost();
    const dir = host.env['NVMF_KERNEL']!.slice('sim:'.length);
    const r = nvmf(host.env, ['sim', 'fail', dir, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
