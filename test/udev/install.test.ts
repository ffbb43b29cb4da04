import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { installUdev, udevStatus, uninstallUdev } from '../../src/udev/install.js';
import { findPackagedDir, HELPER_PATH, udevPaths } from '../../src/udev/paths.js';
import { REPO } from './harness.js';

let dir: string;
let opts: { rulesDir: string; libexecDir: string; udevControl: string; udevadm: string };
let servers: net.Server[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-udev-install-'));
  servers = [];
  opts = {
    rulesDir: path.join(dir, 'etc', 'udev', 'rules.d'),
    libexecDir: path.join(dir, 'usr', 'libexec', 'nvmf-registry'),
    udevControl: path.join(dir, 'run', 'udev', 'control'),
    udevadm: path.join(dir, 'udevadm'),
  };
  fakeUdevadm('exit 0');
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  fs.rmSync(dir, { recursive: true, force: true });
});

const rulePath = (): string => path.join(opts.rulesDir, '70-nvmf-registry.rules');
const helperPath = (): string => path.join(opts.libexecDir, 'nvmf-registry-cleanup');
const packaged = (name: string): Buffer => fs.readFileSync(path.join(REPO, 'udev', name));
const calls = (): string[] => {
  try {
    return fs.readFileSync(path.join(dir, 'udevadm.calls'), 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** A stand-in udevadm that records its arguments, then runs `tail` (its exit behaviour). */
function fakeUdevadm(tail: string): void {
  fs.writeFileSync(opts.udevadm, `#!/bin/sh\necho "$*" >> "${path.join(dir, 'udevadm.calls')}"\n${tail}\n`, {
    mode: 0o755,
  });
}

/** A real listening unix socket where udevd keeps its control socket. */
async function startUdevd(): Promise<void> {
  fs.mkdirSync(path.dirname(opts.udevControl), { recursive: true });
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(opts.udevControl, resolve));
}

describe('install', () => {
  it('copies the rule (0644) and the helper (0755) byte for byte, leaving no temp files', () => {
    const r = installUdev(opts);
    expect(r).toMatchObject({
      rule: { path: rulePath(), changed: true },
      helper: { path: helperPath(), changed: true },
      udevd: { running: false, control: opts.udevControl },
      reload: 'not-running',
    });
    expect(fs.readFileSync(rulePath()).equals(packaged('70-nvmf-registry.rules'))).toBe(true);
    expect(fs.readFileSync(helperPath()).equals(packaged('nvmf-registry-cleanup'))).toBe(true);
    expect(fs.statSync(rulePath()).mode & 0o7777).toBe(0o644);
    expect(fs.statSync(helperPath()).mode & 0o7777).toBe(0o755);
    expect(fs.readdirSync(opts.rulesDir)).toEqual(['70-nvmf-registry.rules']);
    expect(fs.readdirSync(opts.libexecDir)).toEqual(['nvmf-registry-cleanup']);
    expect(calls()).toEqual([]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('warns that the rule names the fixed helper path when installing elsewhere', () => {
    expect(installUdev(opts).warnings[0]).toContain(`the rule runs ${HELPER_PATH}`);
  });

  it('sets the modes whatever the umask', () => {
    const old = process.umask(0o077);
    try {
      installUdev(opts);
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(rulePath()).mode & 0o7777).toBe(0o644);
    expect(fs.statSync(helperPath()).mode & 0o7777).toBe(0o755);
  });

  it('reloads udevd when it runs and something changed, and only then', async () => {
    await startUdevd();
    expect(installUdev(opts)).toMatchObject({ udevd: { running: true }, reload: 'done' });
    expect(calls()).toEqual(['control --reload']);
    expect(installUdev(opts)).toMatchObject({
      rule: { changed: false },
      helper: { changed: false },
      reload: 'unchanged',
    });
    expect(calls()).toEqual(['control --reload']);
  });

  it('reports a failed reload without undoing the install', async () => {
    await startUdevd();
    fakeUdevadm('echo "Failed to send reload request: Connection refused" >&2; exit 1');
    const r = installUdev(opts);
    expect(r.reload).toBe('failed');
    expect(r.reloadError).toContain('Connection refused');
    expect(udevStatus(opts).upToDate).toBe(true);
  });

  it('reports a missing udevadm by name', async () => {
    await startUdevd();
    const r = installUdev({ ...opts, udevadm: path.join(dir, 'no-such-udevadm') });
    expect(r.reload).toBe('failed');
    expect(r.reloadError).toContain('not found');
  });

  it('rewrites a modified rule and a helper that lost its exec bit', () => {
    installUdev(opts);
    fs.appendFileSync(rulePath(), '# local edit\n');
    fs.chmodSync(helperPath(), 0o644);
    const r = installUdev(opts);
    expect(r.rule.changed && r.helper.changed).toBe(true);
    expect(udevStatus(opts).upToDate).toBe(true);
  });

  it('replaces a symlink at the rule path, not what it points to', () => {
    fs.mkdirSync(opts.rulesDir, { recursive: true });
    const elsewhere = path.join(dir, 'elsewhere.rules');
    fs.writeFileSync(elsewhere, 'theirs\n');
    fs.symlinkSync(elsewhere, rulePath());
    expect(udevStatus(opts).rule.installed).toBe(false);
    installUdev(opts);
    expect(fs.lstatSync(rulePath()).isFile()).toBe(true);
    expect(fs.readFileSync(elsewhere, 'utf8')).toBe('theirs\n');
  });

  it.skipIf(process.getuid?.() === 0)('fails with EIO naming the path and saying to run as root', () => {
    fs.mkdirSync(opts.rulesDir, { recursive: true });
    fs.chmodSync(opts.rulesDir, 0o555);
    try {
      installUdev(opts);
      expect.unreachable();
    } catch (e) {
      expect(isNvmfError(e, 'EIO')).toBe(true);
      expect((e as Error).message).toContain(rulePath());
      expect((e as Error).message).toContain('run as root');
    } finally {
      fs.chmodSync(opts.rulesDir, 0o755);
    }
    expect(fs.readdirSync(opts.rulesDir)).toEqual([]);
  });

  it('fails with EIO naming the directory it could not create', () => {
    fs.writeFileSync(path.join(dir, 'etc'), 'a file where a directory belongs');
    expect(() => installUdev(opts)).toThrow(/cannot create directory .*rules\.d: (ENOTDIR|EEXIST)/);
    try {
      installUdev(opts);
    } catch (e) {
      expect(isNvmfError(e, 'EIO')).toBe(true);
    }
  });

  it('installs a helper that works: the installed copy removes a stale entry under dash', () => {
    installUdev(opts);
    const reg = path.join(dir, 'registry');
    fs.mkdirSync(path.join(reg, 'nvme7'), { recursive: true });
    fs.writeFileSync(path.join(reg, 'nvme7', 'seqnum'), '10\n');
    fs.mkdirSync(path.join(dir, 'dev'));
    const r = spawnSync('dash', [helperPath(), 'nvme7', '11'], {
      env: {
        NVMF_REGISTRY_ROOT: reg,
        NVMF_DEV_ROOT: path.join(dir, 'dev'),
        NVMF_LOGGER: '/bin/false',
        NVMF_AUDIT_SINK: 'stderr',
      },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('reason=removed');
    expect(fs.existsSync(path.join(reg, 'nvme7'))).toBe(false);
  });
});

describe('status', () => {
  it('says not installed, udevd not running, on a clean host', () => {
    const s = udevStatus(opts);
    expect(s).toMatchObject({
      rule: { path: rulePath(), installed: false, current: false, mode: null },
      helper: { path: helperPath(), installed: false, current: false, mode: null },
      udevd: { running: false },
      upToDate: false,
    });
  });

  it('says installed and current after install, with modes', async () => {
    installUdev(opts);
    await startUdevd();
    expect(udevStatus(opts)).toMatchObject({
      rule: { installed: true, current: true, mode: '0644' },
      helper: { installed: true, current: true, mode: '0755' },
      udevd: { running: true },
      upToDate: true,
    });
  });

  it('says installed but not current for a changed rule or a non-executable helper', () => {
    installUdev(opts);
    fs.writeFileSync(rulePath(), 'ACTION=="remove", RUN+="/bin/true"\n');
    fs.chmodSync(helperPath(), 0o700);
    const s = udevStatus(opts);
    expect(s.rule).toMatchObject({ installed: true, current: false });
    expect(s.helper).toMatchObject({ installed: true, current: false, mode: '0700' });
    expect(s.upToDate).toBe(false);
  });

  it('does not take a regular file for udevd', () => {
    fs.mkdirSync(path.dirname(opts.udevControl), { recursive: true });
    fs.writeFileSync(opts.udevControl, '');
    expect(udevStatus(opts).udevd.running).toBe(false);
  });
});

describe('uninstall', () => {
  it('removes both files and our empty libexec directory, then reloads a running udevd', async () => {
    installUdev(opts);
    await startUdevd();
    const r = uninstallUdev(opts);
    expect(r).toMatchObject({ rule: { removed: true }, helper: { removed: true }, reload: 'done' });
    expect(fs.existsSync(rulePath()) || fs.existsSync(helperPath())).toBe(false);
    expect(fs.existsSync(opts.libexecDir)).toBe(false);
    expect(fs.existsSync(opts.rulesDir)).toBe(true);
    expect(calls()).toEqual(['control --reload']);
  });

  it('is a no-op the second time, and leaves a libexec directory holding other files', () => {
    installUdev(opts);
    fs.writeFileSync(path.join(opts.libexecDir, 'other'), 'x');
    uninstallUdev(opts);
    expect(fs.readdirSync(opts.libexecDir)).toEqual(['other']);
    expect(uninstallUdev(opts)).toMatchObject({
      rule: { removed: false },
      helper: { removed: false },
      reload: 'unchanged',
    });
  });

  it('leaves a symlink at the rule path alone (a mask is not ours)', () => {
    fs.mkdirSync(opts.rulesDir, { recursive: true });
    fs.symlinkSync('/dev/null', rulePath());
    expect(uninstallUdev(opts).rule.removed).toBe(false);
    expect(fs.lstatSync(rulePath()).isSymbolicLink()).toBe(true);
  });
});

describe('paths', () => {
  it('finds the packaged udev/ directory from the source tree', () => {
    expect(findPackagedDir()).toBe(path.join(REPO, 'udev'));
  });

  it('fails with EIO when there is no package above', () => {
    expect(() => findPackagedDir(dir)).toThrow(/cannot find the packaged udev/);
  });

  it('takes env overrides and defaults to the host paths', () => {
    const env = {
      NVMF_UDEV_RULES_DIR: '/x/rules',
      NVMF_LIBEXEC_DIR: '/x/libexec',
      NVMF_UDEV_CONTROL: '/x/ctl',
      NVMF_UDEVADM: '/x/udevadm',
    };
    expect(udevPaths({}, env)).toMatchObject({
      rulesDir: '/x/rules',
      libexecDir: '/x/libexec',
      udevControl: '/x/ctl',
      udevadm: '/x/udevadm',
    });
    expect(udevPaths({}, {})).toMatchObject({
      rulesDir: '/etc/udev/rules.d',
      libexecDir: '/usr/libexec/nvmf-registry',
      udevControl: '/run/udev/control',
      udevadm: 'udevadm',
    });
    expect(udevPaths({ rulesDir: '/given' }, env).rulesDir).toBe('/given');
  });

  it('the shipped rule runs the helper at the path install puts it', () => {
    const rule = packaged('70-nvmf-registry.rules').toString('utf8');
    const active = rule.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(active).toEqual([
      `ACTION=="remove", SUBSYSTEM=="nvme", KERNEL=="nvme[0-9]*", RUN+="${HELPER_PATH} %k $env{SEQNUM}"`,
    ]);
  });
});
