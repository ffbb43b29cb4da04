import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  installSystemd,
  type SystemdOptions,
  systemdStatus,
  uninstallSystemd,
} from '../../src/systemd/install.js';
import { parseShow } from '../../src/systemd/systemctl.js';
import {
  bakedEnvironment,
  checkPlain,
  findUnitTemplates,
  renderUnit,
  textfileOf,
  UNIT_NAMES,
} from '../../src/systemd/units.js';
import { NvmfError } from '../../src/errors.js';
import { tableHost } from '../cli/sim-host.js';
import { MAIN, nvmf } from '../cli/helpers.js';
import { kernelFromEnv } from '../../src/kernel/sim.js';

let dir: string;
let unitDir: string;
let calls: string;
let systemctlExe: string;

/**
 * A systemctl that logs its arguments, answers `show` like systemd (one block per unit),
 * and fails the verb named in $dir/fail.
 */
function fakeSystemctl(): string {
  const exe = path.join(dir, 'systemctl');
  fs.writeFileSync(
    exe,
    `#!/bin/sh
echo "$*" >> "${calls}"
if [ -f "${dir}/fail" ] && [ "$1" = "$(cat "${dir}/fail")" ]; then echo "Failed to $1: boom" >&2; exit 1; fi
if [ "$1" = show ]; then
  shift 2
  for u in "$@"; do printf 'Id=%s\\nUnitFileState=enabled\\nActiveState=active\\nSubState=waiting\\n\\n' "$u"; done
fi
exit 0
`,
    { mode: 0o755 },
  );
  return exe;
}

function opts(extra: SystemdOptions = {}): SystemdOptions {
  return {
    env: {},
    unitDir,
    textfile: path.join(dir, 'textfile', 'nvmf.prom'),
    registryRoot: '/run/nvme/registry',
    nvmf: [process.execPath, MAIN],
    systemctl: systemctlExe,
    runtimeDir: dir,
    searchPath: [unitDir],
    ...extra,
  };
}

const called = (): string[] =>
  fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-systemd-'));
  unitDir = path.join(dir, 'units');
  calls = path.join(dir, 'calls');
  systemctlExe = fakeSystemctl();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('unit templates', () => {
  const templates = findUnitTemplates();
  const config = {
    nvmf: ['/usr/bin/node', '/opt/nvmf/build/cli/nvmf.cjs'],
    registryRoot: '/run/nvme/registry',
    textfile: '/var/lib/prometheus/node-exporter/nvmf_registry.prom',
    environment: [['NVMF_REGISTRY_ROOT', '/srv/reg']] as const,
  };

  it('fill every field: the command, the watched root, the textfile, one Environment= per variable', () => {
    const service = renderUnit(
      fs.readFileSync(path.join(templates, 'nvmf-registry-export.service'), 'utf8'),
      config,
    );
    expect(service).toContain('\nEnvironment=NVMF_REGISTRY_ROOT=/srv/reg\n');
    expect(service).toContain(
      '\nExecStart=/usr/bin/node /opt/nvmf/build/cli/nvmf.cjs registry export --format prometheus --repeat-on-change --path /var/lib/prometheus/node-exporter/nvmf_registry.prom\n',
    );
    expect(service).toContain('\nType=oneshot\n');
    expect(textfileOf(service)).toBe('/var/lib/prometheus/node-exporter/nvmf_registry.prom');
    const unit = renderUnit(
      fs.readFileSync(path.join(templates, 'nvmf-registry-export.path'), 'utf8'),
      config,
    );
    expect(unit).toContain('\nPathChanged=/run/nvme/registry\n');
    const gc = renderUnit(fs.readFileSync(path.join(templates, 'nvmf-registry-gc.service'), 'utf8'), {
      ...config,
      environment: [],
    });
    expect(gc).not.toContain('Environment=');
    expect(gc).not.toContain('@');
    expect(gc).toContain('\nExecStart=/usr/bin/node /opt/nvmf/build/cli/nvmf.cjs registry gc\n');
  });

  it('refuse an unknown field and values systemd would split, expand or unquote', () => {
    expect(() => renderUnit('X=@NOPE@\n', config)).toThrow(/unknown field @NOPE@/);
    for (const bad of ['/a b', '/a%n', '/a$HOME', '/a"b', "/a'b", '/a\\b', '/a\nb', '']) {
      expect(() => checkPlain(bad, 'the textfile'), JSON.stringify(bad)).toThrow(NvmfError);
    }
    expect(checkPlain('/var/lib/x_y-z.prom', 'f')).toBe('/var/lib/x_y-z.prom');
    expect(
      bakedEnvironment({ NVMF_REGISTRY_ROOT: '/r', NVMF_KERNEL: 'sim:/h', NVMF_DEV_ROOT: '', HOME: '/x' }),
    ).toEqual([
      ['NVMF_REGISTRY_ROOT', '/r'],
      ['NVMF_KERNEL', 'sim:/h'],
    ]);
    expect(() => bakedEnvironment({ NVMF_REGISTRY_ROOT: '/a b' })).toThrow(/NVMF_REGISTRY_ROOT/);
  });

  it('systemctl show output is read per unit, unknown ids ignored', () => {
    const out =
      'Id=nvmf-registry-export.path\nUnitFileState=enabled\nActiveState=active\nSubState=waiting\n\n' +
      'Id=other.service\nUnitFileState=enabled\nActiveState=active\nSubState=running\n\n' +
      'Id=nvmf-registry-gc.service\nUnitFileState=static\nActiveState=inactive\nSubState=dead\n';
    const m = parseShow(out, UNIT_NAMES);
    expect(m.get('nvmf-registry-export.path')).toEqual({ enabled: 'enabled', active: 'active/waiting' });
    expect(m.get('nvmf-registry-gc.service')).toEqual({ enabled: 'static', active: 'inactive/dead' });
    expect(m.has('other.service')).toBe(false);
  });
});

describe('install, status, uninstall', () => {
  it('install writes all five units 0644 and the textfile directory, then reloads, enables and restarts the triggers', () => {
    const r = installSystemd(opts());
    expect(r.units.map((u) => [u.name, u.changed])).toEqual(UNIT_NAMES.map((n) => [n, true]));
    for (const n of UNIT_NAMES) expect(fs.statSync(path.join(unitDir, n)).mode & 0o777).toBe(0o644);
    expect(r.textfile.directoryCreated).toBe(true);
    expect(fs.statSync(path.join(dir, 'textfile')).isDirectory()).toBe(true);
    const triggers = 'nvmf-registry-export.path nvmf-registry-export.timer nvmf-registry-gc.timer';
    expect(called()).toEqual(['daemon-reload', `enable ${triggers}`, `restart ${triggers}`]);
    expect(r.systemctl.state).toBe('done');

    // again: nothing to write, no reload, the triggers only started (and enabled) if they were not
    fs.rmSync(calls);
    const again = installSystemd(opts());
    expect(again.units.every((u) => !u.changed)).toBe(true);
    expect(called()).toEqual([`enable ${triggers}`, `start ${triggers}`]);
  });

  it('status: current, enabled and active from systemctl; NOT current after an edit or with other roots', () => {
    expect(systemdStatus(opts()).upToDate).toBe(false);
    installSystemd(opts());
    const s = systemdStatus(opts());
    expect(s.upToDate).toBe(true);
    expect(s.systemctl.queried).toBe(true);
    expect(
      s.units.every(
        (u) => u.installed && u.current && u.enabled === 'enabled' && u.active === 'active/waiting',
      ),
    ).toBe(true);
    expect(called().at(-1)).toBe(
      `show --property=Id,UnitFileState,ActiveState,SubState ${UNIT_NAMES.join(' ')}`,
    );
    expect(systemdStatus(opts({ registryRoot: '/elsewhere' })).upToDate).toBe(false);
    expect(systemdStatus(opts({ env: { NVMF_REGISTRY_ROOT: '/run/nvme/registry' } })).upToDate).toBe(false);
    fs.appendFileSync(path.join(unitDir, 'nvmf-registry-gc.timer'), '# edited\n');
    const edited = systemdStatus(opts());
    expect(edited.upToDate).toBe(false);
    expect(edited.units.find((u) => u.name === 'nvmf-registry-gc.timer')?.current).toBe(false);
  });

  it('the textfile directory and its new parents are 0755 under umask 077', () => {
    const old = process.umask(0o077);
    try {
      installSystemd(opts({ textfile: path.join(dir, 'a', 'b', 'x.prom') }));
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dir, 'a', 'b')).mode & 0o777).toBe(0o755);
  });

  it('the textfile of the installed service is kept when none is given', () => {
    installSystemd(opts({ textfile: path.join(dir, 'other', 'x.prom') }));
    const { textfile: _omit, ...rest } = opts();
    expect(systemdStatus(rest).textfile.path).toBe(path.join(dir, 'other', 'x.prom'));
    expect(systemdStatus(rest).upToDate).toBe(true);
  });

  it('uninstall stops and disables, removes the units and the textfile, reloads', () => {
    installSystemd(opts());
    fs.writeFileSync(path.join(dir, 'textfile', 'nvmf.prom'), 'x 1\n');
    fs.rmSync(calls);
    const r = uninstallSystemd(opts());
    expect(r.units.every((u) => u.removed)).toBe(true);
    expect(r.textfile.removed).toBe(true);
    expect(fs.readdirSync(unitDir)).toEqual([]);
    expect(called()).toEqual([
      'disable --now nvmf-registry-export.path nvmf-registry-export.timer nvmf-registry-gc.timer',
      'stop nvmf-registry-export.service nvmf-registry-gc.service',
      'daemon-reload',
    ]);
    expect(r.systemctl.state).toBe('done');
    // nothing left: no systemctl, nothing removed
    fs.rmSync(calls);
    const again = uninstallSystemd(opts());
    expect(again.units.some((u) => u.removed)).toBe(false);
    expect(called()).toEqual([]);
  });

  it('uninstall removes nothing when stopping fails (units systemd still runs stay visible)', () => {
    installSystemd(opts());
    fs.writeFileSync(path.join(dir, 'fail'), 'disable');
    const r = uninstallSystemd(opts());
    expect(r.systemctl.state).toBe('failed');
    expect(r.systemctl.error).toMatch(/Failed to disable: boom/);
    expect(r.units.some((u) => u.removed)).toBe(false);
    expect(fs.readdirSync(unitDir).sort()).toEqual([...UNIT_NAMES].sort());
  });

  it('a failing step is reported and stops the rest; the files stay written', () => {
    fs.writeFileSync(path.join(dir, 'fail'), 'enable');
    const r = installSystemd(opts());
    expect(r.systemctl.state).toBe('failed');
    expect(r.systemctl.ran).toEqual([
      'systemctl daemon-reload',
      'systemctl enable nvmf-registry-export.path nvmf-registry-export.timer nvmf-registry-gc.timer',
    ]);
    expect(systemdStatus(opts()).upToDate).toBe(true);
  });

  it('install refuses a command that is not there; status warns; uninstall does not need it', () => {
    installSystemd(opts());
    const gone = opts({ nvmf: [process.execPath, path.join(dir, 'no', 'nvmf.cjs')] });
    expect(() => installSystemd(gone)).toThrow(/nvmf\.cjs missing: the units could not run it/);
    expect(systemdStatus(gone).warnings).toContain(
      `the units run ${path.join(dir, 'no', 'nvmf.cjs')}, which is missing`,
    );
    expect(uninstallSystemd(gone).units.every((u) => u.removed)).toBe(true);
  });

  it('systemctl is never run: when asked not to, without systemd, or for a staged directory', () => {
    expect(installSystemd(opts({ systemctl: false })).systemctl).toEqual({
      state: 'skipped',
      reason: 'not asked to (--no-systemctl)',
      ran: [],
    });
    expect(installSystemd(opts({ runtimeDir: path.join(dir, 'absent') })).systemctl.reason).toBe(
      'systemd is not running',
    );
    const staged = installSystemd(opts({ searchPath: undefined }));
    expect(staged.systemctl.reason).toMatch(/not on systemd's search path/);
    expect(staged.warnings[0]).toMatch(/a staged install only/);
    expect(systemdStatus(opts({ systemctl: false })).units.every((u) => u.enabled === null)).toBe(true);
    expect(called()).toEqual([]);
  });
});

describe('the installed services run as written', () => {
  it("the export's and gc's ExecStart, with their Environment=, work on a sim host", async () => {
    const host = await tableHost();
    try {
      const textfile = path.join(dir, 'tf', 'nvmf.prom');
      const inst = nvmf({ ...host.env, NVMF_SYSTEMD_UNIT_DIR: unitDir }, [
        'systemd',
        'install',
        '--textfile',
        textfile,
        '--no-systemctl',
        '-o',
        'json',
      ]);
      expect(inst.code, inst.stderr).toBe(0);
      expect(JSON.parse(inst.stdout)).toMatchObject({
        environment: { NVMF_KERNEL: host.env['NVMF_KERNEL'] },
        systemctl: { state: 'skipped', reason: 'not asked to (--no-systemctl)' },
      });
      const run = (unit: string): ReturnType<typeof spawnSync> => {
        const text = fs.readFileSync(path.join(unitDir, unit), 'utf8');
        const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
        for (const m of text.matchAll(/^Environment=([A-Z_]+)=(\S+)$/gm))
          env[m[1] as string] = m[2] as string;
        const argv = (/^ExecStart=(.*)$/m.exec(text)?.[1] ?? '').split(' ');
        expect(argv[0]).toBe(process.execPath);
        expect(argv[1]).toBe(MAIN);
        return spawnSync(argv[0] as string, argv.slice(1), { env, encoding: 'utf8', timeout: 30_000 });
      };
      const ex = run('nvmf-registry-export.service');
      expect(ex.status, String(ex.stderr)).toBe(0);
      const prom = fs.readFileSync(textfile, 'utf8');
      expect(prom).toContain('nvmf_registry_owned_controllers{owner="stas"} 1');
      expect(prom).toContain('nvmf_registry_unowned_fabrics_controllers{transport="tcp"} 1');
      const gc = run('nvmf-registry-gc.service');
      expect(gc.status, String(gc.stderr)).toBe(0);
      // the path unit watches the sim's registry root
      const { roots } = await kernelFromEnv({ NVMF_KERNEL: host.env['NVMF_KERNEL'] });
      const unit = fs.readFileSync(path.join(unitDir, 'nvmf-registry-export.path'), 'utf8');
      expect(unit).toContain(`\nPathChanged=${roots.registry}\n`);
      const status = nvmf({ ...host.env, NVMF_SYSTEMD_UNIT_DIR: unitDir }, [
        'systemd',
        'status',
        '--no-systemctl',
      ]);
      expect(status.stdout).toMatch(/^nvmf-registry-export\.path +current +- +-$/m);
      expect(status.stdout).toContain('systemctl not asked: not asked to (--no-systemctl)');
      const un = nvmf({ ...host.env, NVMF_SYSTEMD_UNIT_DIR: unitDir }, [
        'systemd',
        'uninstall',
        '--no-systemctl',
      ]);
      expect(un.code, un.stderr).toBe(0);
      expect(fs.existsSync(textfile)).toBe(false);
      expect(fs.readdirSync(unitDir)).toEqual([]);
    } finally {
      fs.rmSync(path.dirname(host.dir), { recursive: true, force: true });
    }
  });
});

describe('nvmf systemd install with the registry plugin off', () => {
  it('refuses (exit 1, nothing written): the units run registry commands', () => {
    const r = nvmf(
      { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NVMF_PLUGINS: 'none', NVMF_SYSTEMD_UNIT_DIR: unitDir },
      ['systemd', 'install', '--no-systemctl'],
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/registry plugin is turned off/);
    expect(fs.existsSync(unitDir)).toBe(false);
  });
});
