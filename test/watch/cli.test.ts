import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The CLI from source (no build needed), as a separate process: signals and exit codes are real.
const REPO = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(REPO, 'src/cli/main.ts');
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'udevadm-monitor.txt');

let dir: string;
let env: Record<string, string>;
let child: ChildProcess | null = null;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'nvmf-watch-cli-'));
  fs.mkdirSync(path.join(dir, 'registry'));
  fs.mkdirSync(path.join(dir, 'bin'));
  env = {
    PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
    NVMF_DEV_ROOT: path.join(dir, 'dev'),
    NVMF_SYSFS_ROOT: path.join(dir, 'sys'),
    NVMF_AUDIT_SINK: 'stderr',
  };
});
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = null;
  fs.rmSync(dir, { recursive: true, force: true });
});

function fakeBin(name: string, body: string): void {
  const f = path.join(dir, 'bin', name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(f, 0o755);
}

/** Start the CLI; lines of stdout arrive through `next()`. */
function start(args: string[]): {
  next(pred: (l: string) => boolean): Promise<string>;
  lines: string[];
  exit: Promise<number | null>;
  stderr(): string;
} {
  const c = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  const lines: string[] = [];
  let err = '';
  c.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const waiters: (() => void)[] = [];
  createInterface({ input: c.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const exit = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  return {
    lines,
    exit,
    stderr: () => err,
    async next(pred) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const hit = lines.find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > deadline)
          throw new Error(`no matching line; stdout=${lines.join('\n')} stderr=${err}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
}

async function waitForStderr(p: { stderr(): string }, re: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!re.test(p.stderr())) {
    if (Date.now() > deadline) throw new Error(`stderr never matched ${re}: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('nvmf monitor', () => {
  it('puts udev events and registry changes in one JSON timeline and exits 0 on SIGINT', async () => {
    const pidFile = path.join(dir, 'udevadm.pid');
    fakeBin(
      'udevadm',
      `[ "$*" = "monitor --udev --property --subsystem-match=nvme" ] || { echo "bad args: $*" >&2; exit 64; }\necho $$ > '${pidFile}'\ncat '${FIXTURE}'\nexec sleep 60`,
    );
    const p = start(['monitor', '-o', 'json']);
    // udevadm starts after the registry watcher is ready, so its lines mean both are live
    await p.next((l) => l.includes('"source":"udev"') && l.includes('"remove"'));
    fs.mkdirSync(path.join(dir, 'registry', 'nvme4'));
    fs.writeFileSync(path.join(dir, 'registry', 'nvme4', 'owner'), 'stas\n');
    await p.next((l) => l.includes('"source":"registry"') && l.includes('"owner":"stas"'));
    child!.kill('SIGINT');
    expect(await p.exit).toBe(0);

    const items = p.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      items.filter((i) => i.source === 'udev').map((i) => [i.action, i.device, i.seqnum, i.transport]),
    ).toEqual([
      ['add', 'nvme4', 5123, 'tcp'],
      ['remove', 'nvme4', 5131, 'tcp'],
    ]);
    const reg = items.filter((i) => i.source === 'registry');
    expect(reg.at(-1)).toMatchObject({ type: 'claimed', device: 'nvme4', owner: 'stas', prevOwner: null });
    expect(p.stderr()).not.toMatch(/warning|error/i);
    // the spawned udevadm did not outlive us
    // (its `sleep 60` would keep it alive far past this bound had nvmf not ended it)
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 30_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it('without udevadm it says so and still reports registry changes (text form)', async () => {
    fakeBin('udevadm', 'echo "udevadm: not on this host" >&2; exit 1');
    const p = start(['monitor']);
    await waitForStderr(p, /udevadm monitor exited \(status 1\).*showing registry changes only/);
    fs.mkdirSync(path.join(dir, 'registry', 'nvme2'));
    await p.next((l) => / registry created nvme2 unowned$/.test(l));
    child!.kill('SIGINT');
    expect(await p.exit).toBe(0);
  });
});

describe('nvmf registry watch', () => {
  it('JSON lines with device, owner and previous owner; SIGTERM ends it cleanly', async () => {
    fs.mkdirSync(path.join(dir, 'registry', 'nvme1'));
    fs.writeFileSync(path.join(dir, 'registry', 'nvme1', 'owner'), 'initramfs\n');
    const p = start(['registry', 'watch', '--initial']);
    await p.next((l) => l.includes('"device":"nvme1"'));
    const tmp = path.join(dir, 'registry', 'nvme1', '.owner.tmp.1');
    fs.writeFileSync(tmp, 'stas\n');
    fs.renameSync(tmp, path.join(dir, 'registry', 'nvme1', 'owner'));
    await p.next((l) => l.includes('"owner-changed"'));
    fs.renameSync(path.join(dir, 'registry', 'nvme1'), path.join(dir, 'registry', '.nvme1.trash.1'));
    await p.next((l) => l.includes('"removed"'));
    child!.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(
      p.lines.map((l) => JSON.parse(l) as Record<string, unknown>).map(({ time: _time, ...e }) => e),
    ).toEqual([
      { type: 'claimed', device: 'nvme1', owner: 'initramfs', prevOwner: null, created: true },
      { type: 'owner-changed', device: 'nvme1', owner: 'stas', prevOwner: 'initramfs' },
      { type: 'removed', device: 'nvme1', owner: null, prevOwner: 'stas' },
    ]);
  });

  it('waits for a missing registry root to appear, then reports what is created in it', async () => {
    const root = path.join(dir, 'run', 'nvme', 'registry'); // parents missing too
    env.NVMF_REGISTRY_ROOT = root;
    const p = start(['registry', 'watch']);
    await waitForStderr(p, /waiting for the registry root .*registry to appear/);
    // the first write: the root (with its parents) and an entry, as a connect makes them
    fs.mkdirSync(path.join(root, 'nvme4'), { recursive: true });
    fs.writeFileSync(path.join(root, 'nvme4', 'owner'), 'stas\n');
    const line = await p.next((l) => l.includes('"device":"nvme4"') && l.includes('"owner":"stas"'));
    expect(JSON.parse(line)).toMatchObject({ device: 'nvme4', owner: 'stas' });
    child!.kill('SIGINT');
    expect(await p.exit).toBe(0);
  });

  it('a signal while waiting for the root ends it cleanly', async () => {
    env.NVMF_REGISTRY_ROOT = path.join(dir, 'never');
    const p = start(['registry', 'watch']);
    await waitForStderr(p, /waiting for the registry root/);
    child!.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });

  it('a registry root that is not a directory is an error at once', () => {
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'registry', 'watch'], {
      cwd: REPO,
      env: { ...env, NVMF_REGISTRY_ROOT: file },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/registry root .*file does not exist yet or is not a directory/);
  });
});

describe('nvmf registry log', () => {
  it('reads the trail of one device from journalctl (NVMF_AUDIT_SINK=journal)', () => {
    const rec = JSON.stringify({
      __REALTIME_TIMESTAMP: '1763750000000000',
      NVMF_ACTION: 'disown',
      NVMF_DEVICE: 'nvme4',
      NVMF_PREV_OWNER: 'k8s',
      NVMF_PID: '12',
    });
    fakeBin('journalctl', `echo "$*" > '${dir}/jargs'\necho '${rec}'`);
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
        cwd: REPO,
        env: { ...env, NVMF_AUDIT_SINK: 'journal' },
        encoding: 'utf8',
      });
    const r = run(['registry', 'log', 'nvme4', '-n', '5']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'jargs'), 'utf8')).toBe(
      '-o json --no-pager -n 5 SYSLOG_IDENTIFIER=nvmf-registry NVMF_DEVICE=nvme4\n',
    );
    expect(r.stdout).toBe('2025-11-21T18:33:20.000Z nvme4 disown owner=k8s->(none) pid=12\n');
    const j = run(['registry', 'log', 'nvme4', '-o', 'json']);
    expect(JSON.parse(j.stdout).records[0]).toMatchObject({
      action: 'disown',
      device: 'nvme4',
      prevOwner: 'k8s',
    });
    const bad = run(['registry', 'log', '../etc']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/invalid device name/);
  });
});

describe('nvmf registry export', () => {
  it('writes the textfile atomically from the simulated kernel and the registry', () => {
    const sim = path.join(dir, 'sim');
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
        cwd: REPO,
        env: { ...env, NVMF_KERNEL: `sim:${sim}` },
        encoding: 'utf8',
      });
    expect(run(['sim', 'init', sim]).status).toBe(0);
    // two entries whose controllers do not exist: stale
    for (const d of ['nvme7', 'nvme8']) fs.mkdirSync(path.join(dir, 'registry', d));
    fs.writeFileSync(path.join(dir, 'registry', 'nvme7', 'owner'), 'stas\n');
    const out = path.join(dir, 'nvmf.prom');
    const r = run(['registry', 'export', '--format', 'prometheus', '--path', out]);
    expect(r.status, r.stderr).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('# TYPE nvmf_registry_stale_entries gauge\nnvmf_registry_stale_entries 2\n');
    expect(text).toContain('\nnvmf_registry_unowned_fabrics_controllers 0\n');
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp.'))).toEqual([]);
    const bad = run(['registry', 'export', '--format', 'json']);
    expect(bad.status).toBe(2);
  });
});
