import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nvmf, nvmfOnTerminal } from './helpers.js';

/**
 * `nvmf sim mount|umount|swapon|hold` and the in-use guard of `disconnect` and
 * `disconnect-all`, through the built CLI on a simulated host with native multipath:
 * subsystem MP on two ports (nvme0 and nvme1, head nvme0n1), subsystem ONE on one (nvme2,
 * head nvme2n1); every namespace has two partitions.
 */
const MP = 'nqn.2024-01.io.example:mp';
const ONE = 'nqn.2024-01.io.example:one';

let base: string;

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-inuse-'));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

let n = 0;
/** A fresh simulated host with the three controllers connected and scanned. */
function host(): { dir: string; env: Record<string, string> } {
  const dir = path.join(base, `h${n++}`);
  const targets = path.join(base, 'targets.json');
  fs.writeFileSync(
    targets,
    JSON.stringify({
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
        { nqn: ONE, transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420', namespaces: 1, partitions: 2 },
      ],
    }),
  );
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: base,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(base, 'etc'),
  };
  const ok = (args: string[]): void => {
    const r = nvmf(env, args);
    if (r.code !== 0) throw new Error(`nvmf ${args.join(' ')}: ${r.stderr}`);
  };
  ok(['sim', 'init', dir, '--targets', targets]);
  ok(['connect', '-t', 'tcp', '-a', '10.0.0.1', '-s', '4420', '-n', MP]);
  ok(['connect', '-t', 'tcp', '-a', '10.0.0.1', '-s', '4421', '-n', MP]);
  ok(['connect', '-t', 'tcp', '-a', '10.0.0.2', '-s', '4420', '-n', ONE]);
  ok(['sim', 'udev-settle', dir]);
  return { dir, env };
}

type Item = { device: string; action: string; reason: string; inUse?: unknown[] };
const plan = (stdout: string): Record<string, Item> =>
  Object.fromEntries((JSON.parse(stdout) as { plan: Item[] }).plan.map((i) => [i.device, i]));

describe('nvmf sim mount|umount|swapon|hold', () => {
  it('write the host files Linux shows, and refuse what Linux refuses', () => {
    const h = host();
    const mount = nvmf(h.env, ['sim', 'mount', h.dir, 'nvme2n1p1', '/data', '-o', 'json']);
    expect(mount.code).toBe(0);
    expect(JSON.parse(mount.stdout).mounts).toEqual([
      expect.objectContaining({ device: 'nvme2n1p1', mountPoint: '/data' }),
    ]);
    const dev = fs.readFileSync(path.join(h.dir, 'sys/class/block/nvme2n1p1/dev'), 'utf8').trim();
    const mountinfo = fs.readFileSync(path.join(h.dir, 'proc/self/mountinfo'), 'utf8');
    expect(mountinfo).toContain(` ${dev} / /data rw,relatime `);
    expect(mountinfo).toMatch(/ \/ \/ rw,relatime shared:1 - ext4 \/dev\/sda1 /);

    expect(nvmf(h.env, ['sim', 'hold', h.dir, '/dev/nvme2n1p2', 'dm-0']).stdout).toBe(
      'dm-0 (253:0) holds nvme2n1p2\n',
    );
    expect(fs.readlinkSync(path.join(h.dir, 'sys/class/block/nvme2n1p2/holders/dm-0'))).toMatch(
      /block\/dm-0$/,
    );
    expect(fs.readdirSync(path.join(h.dir, 'sys/block/dm-0/slaves'))).toEqual(['nvme2n1p2']);
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'dm-0', '/srv with space']).code).toBe(0);
    expect(fs.readFileSync(path.join(h.dir, 'proc/self/mountinfo'), 'utf8')).toContain(
      ' 253:0 / /srv\\040with\\040space ',
    );

    const swap = nvmf(h.env, ['sim', 'swapon', h.dir, 'nvme0n1']);
    expect(swap.code).toBe(0);
    expect(fs.readFileSync(path.join(h.dir, 'proc/swaps'), 'utf8')).toMatch(
      /^Filename\t.*\n\/dev\/nvme0n1 +partition\t/,
    );

    for (const [args, message] of [
      [
        ['mount', h.dir, 'nvme0c1n1', '/x'],
        'nvme0c1n1 is a hidden multipath path (no device node); use its head nvme0n1',
      ],
      [['mount', h.dir, 'nvme9n1', '/x'], 'nvme9n1 is not a block device of the simulated host'],
      [['mount', h.dir, 'nvme2n1p2', '/x'], 'nvme2n1p2 is busy (held by dm-0)'],
      [['swapon', h.dir, 'nvme0n1'], 'nvme0n1 is busy (active swap)'],
      [['hold', h.dir, 'nvme2n1p1', 'dm-1'], 'nvme2n1p1 is busy (mounted at /data)'],
      [['hold', h.dir, 'nvme2n1', 'sda'], 'holder "sda" must be a device-mapper (dm-N) or md (mdN) name'],
      [['umount', h.dir, '/nowhere'], '/nowhere: not mounted'],
      [['mount', h.dir, 'nvme2n1', 'relative'], 'the mount point must be an absolute path'],
    ] as const) {
      const r = nvmf(h.env, ['sim', ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(message);
    }

    const umount = nvmf(h.env, ['sim', 'umount', h.dir, '/data/', '-o', 'json']);
    expect(umount.code).toBe(0);
    expect(JSON.parse(umount.stdout).mounts.map((m: { mountPoint: string }) => m.mountPoint)).toEqual([
      '/srv with space',
    ]);
    expect(fs.readFileSync(path.join(h.dir, 'proc/self/mountinfo'), 'utf8')).not.toContain('/data');
  });

  it('a deleted controller takes its head and partitions; mounts and holders stay, as on Linux', () => {
    const h = host();
    expect(nvmf(h.env, ['sim', 'hold', h.dir, 'nvme2n1', 'dm-3']).code).toBe(0);
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'dm-3', '/data']).code).toBe(0);
    const r = nvmf(h.env, ['disconnect', '-d', 'nvme2', '--ignore-in-use', '--yes']);
    expect(r.code).toBe(0);
    const blocks = fs.readdirSync(path.join(h.dir, 'sys/class/block'));
    expect(blocks.filter((b) => b.startsWith('nvme2'))).toEqual([]);
    expect(blocks).toContain('dm-3');
    expect(fs.readdirSync(path.join(h.dir, 'sys/block/dm-3/slaves'))).toEqual([]);
    expect(fs.readFileSync(path.join(h.dir, 'proc/self/mountinfo'), 'utf8')).toContain(' 253:3 / /data ');
    // a multipath head outlives one path and goes with its last
    expect(nvmf(h.env, ['disconnect', '-d', 'nvme1']).code).toBe(0);
    expect(fs.existsSync(path.join(h.dir, 'sys/class/block/nvme0n1'))).toBe(true);
    expect(nvmf(h.env, ['disconnect', '-d', 'nvme0']).code).toBe(0);
    expect(fs.existsSync(path.join(h.dir, 'sys/class/block/nvme0n1'))).toBe(false);
    expect(fs.existsSync(path.join(h.dir, 'dev/nvme0n1p1'))).toBe(false);
  });
});

describe('disconnect-all with controllers in use', () => {
  it('every mode skips them with the reason and JSON facts; --ignore-in-use with --yes removes them', () => {
    const h = host();
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'nvme0n1', '/data']).code).toBe(0);
    expect(nvmf(h.env, ['sim', 'swapon', h.dir, 'nvme2n1p2']).code).toBe(0);
    for (const mode of [[], ['--force']]) {
      const r = nvmf(h.env, ['disconnect-all', '--dry-run', ...mode, '-o', 'json']);
      expect(r.code).toBe(0);
      const p = plan(r.stdout);
      expect(p['nvme0']).toMatchObject({ action: 'disconnect' });
      expect(p['nvme0']?.inUse).toBeUndefined();
      expect(p['nvme1']).toMatchObject({ action: 'skip', reason: 'in use: nvme0n1 mounted at /data' });
      expect(p['nvme1']?.inUse).toEqual([
        { disk: 'nvme0n1', device: 'nvme0n1', use: 'mounted', mountPoint: '/data' },
      ]);
      expect(p['nvme2']).toMatchObject({ action: 'skip', reason: 'in use: nvme2n1p2 active swap' });
    }
    const text = nvmf(h.env, ['disconnect-all', '--dry-run']);
    expect(text.stdout).toMatch(/nvme1 +tcp +- +skip +in use: nvme0n1 mounted at \/data/);

    // --ignore-in-use is still a plan that needs the typed yes (no terminal here: refused)
    const refused = nvmf(h.env, ['disconnect-all', '--ignore-in-use']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--yes');

    const done = nvmf(h.env, ['disconnect-all', '--yes', '-o', 'json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).results).toEqual([{ device: 'nvme0', ok: true }]);
    const all = nvmf(h.env, ['disconnect-all', '--ignore-in-use', '--yes', '-o', 'json']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).results).toEqual([
      { device: 'nvme1', ok: true },
      { device: 'nvme2', ok: true },
    ]);
  });

  it('on a terminal --ignore-in-use shows the plan and asks for a typed yes', () => {
    const h = host();
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'nvme2n1', '/']).code).toBe(0);
    const no = nvmfOnTerminal(h.env, ['disconnect-all', '--ignore-in-use', '-t', 'tcp'], 'no\n');
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(/nvme2 +tcp +- +disconnect +unowned/);
    expect(no.stdout).toContain("Type 'yes' to continue");
  });
});

describe('disconnect of a controller in use', () => {
  it('is refused with the facts, exit 1; --ignore-in-use asks on a terminal; --yes skips the question', () => {
    const h = host();
    expect(nvmf(h.env, ['sim', 'hold', h.dir, 'nvme2n1p1', 'dm-0']).code).toBe(0);
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'dm-0', '/mnt']).code).toBe(0);
    const r = nvmf(h.env, ['disconnect', '-d', 'nvme2', '-o', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      results: [
        {
          device: 'nvme2',
          ok: false,
          error: 'refused, in use: nvme2n1p1 held by dm-0 mounted at /mnt (--ignore-in-use overrides)',
          inUse: [
            { disk: 'nvme2n1', device: 'nvme2n1p1', holders: ['dm-0'], use: 'mounted', mountPoint: '/mnt' },
          ],
        },
      ],
    });
    const noTerminal = nvmf(h.env, ['disconnect', '-d', 'nvme2', '--ignore-in-use']);
    expect(noTerminal.code).toBe(1);
    expect(noTerminal.stderr).toContain('--yes');

    const declined = nvmfOnTerminal(h.env, ['disconnect', '-d', 'nvme2', '--ignore-in-use'], 'y\n');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('nvme2: nvme2n1p1 held by dm-0 mounted at /mnt');
    expect(fs.existsSync(path.join(h.dir, 'sys/class/nvme/nvme2'))).toBe(true);

    const typed = nvmfOnTerminal(h.env, ['disconnect', '-d', 'nvme2', '--ignore-in-use'], 'yes\n');
    expect(typed.code).toBe(0);
    expect(typed.stdout).toContain('nvme2: disconnected');
    expect(fs.existsSync(path.join(h.dir, 'sys/class/nvme/nvme2'))).toBe(false);
  });

  it('-n: one path of a mounted head goes, the last is refused (exit 3)', () => {
    const h = host();
    expect(nvmf(h.env, ['sim', 'mount', h.dir, 'nvme0n1p1', '/data']).code).toBe(0);
    const r = nvmf(h.env, ['disconnect', '-n', MP, '-o', 'json']);
    expect(r.code).toBe(3);
    const results = JSON.parse(r.stdout).results as { device: string; ok: boolean; inUse?: unknown[] }[];
    expect(results.map((x) => [x.device, x.ok])).toEqual([
      ['nvme0', true],
      ['nvme1', false],
    ]);
    expect(results[1]?.inUse).toEqual([
      { disk: 'nvme0n1', device: 'nvme0n1p1', use: 'mounted', mountPoint: '/data' },
    ]);
    expect(nvmf(h.env, ['sim', 'umount', h.dir, '/data']).code).toBe(0);
    expect(nvmf(h.env, ['disconnect', '-n', MP]).code).toBe(0);
  });
});
