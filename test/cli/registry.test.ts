import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  entryExists,
  liveController,
  nvmf,
  nvmfOnTerminal,
  readOwner,
  tempHost,
  writeEntry,
} from './helpers.js';

function hostWithEntries() {
  const host = tempHost();
  writeEntry(host, 'nvme3', { owner: 'stas', seqnum: '12', note: 'boot' });
  writeEntry(host, 'nvme4', { seqnum: '13' });
  writeEntry(host, 'nvme7', { owner: 'gone', seqnum: '9' }, false);
  return host;
}

describe('nvmf registry list', () => {
  it('prints the JSON shape of DESIGN §10, live entries only', () => {
    const r = nvmf(hostWithEntries().env, ['registry', 'list', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      entries: [
        {
          device: 'nvme3',
          owner: 'stas',
          seqnum: 12,
          attrs: { note: 'boot' },
          live: true,
          verdict: { kind: 'owned', owner: 'stas' },
        },
        { device: 'nvme4', owner: null, seqnum: 13, attrs: {}, live: true, verdict: { kind: 'unowned' } },
      ],
    });
  });

  it('shows stale entries only with --all', () => {
    const env = hostWithEntries().env;
    const all = JSON.parse(nvmf(env, ['registry', 'list', '--all', '-o', 'json']).stdout) as {
      entries: { device: string; live: boolean }[];
    };
    expect(all.entries.map((e) => [e.device, e.live])).toEqual([
      ['nvme3', true],
      ['nvme4', true],
      ['nvme7', false],
    ]);
    const plain = nvmf(env, ['registry', 'list']);
    expect(plain.stdout).not.toContain('nvme7');
    expect(plain.messages).toContain('1 stale entry hidden');
  });

  it('shows seqnum only with -v, before or after the subcommand', () => {
    const env = hostWithEntries().env;
    expect(nvmf(env, ['registry', 'list']).stdout).not.toContain('Seqnum');
    for (const args of [
      ['-v', 'registry', 'list'],
      ['registry', 'list', '-v'],
    ]) {
      const lines = nvmf(env, args).stdout.split('\n');
      expect(lines[0]).toMatch(/^Device\s+Owner\s+Seqnum\s+Attributes$/);
      expect(lines[2]).toMatch(/^nvme3\s+stas\s+12\s+note=boot$/);
      expect(lines[3]).toMatch(/^nvme4\s+-\s+13$/);
    }
  });
});

describe('nvmf registry retrieve', () => {
  it('prints the value and strips /dev/', () => {
    const env = hostWithEntries().env;
    expect(nvmf(env, ['registry', 'retrieve', '/dev/nvme3', '-a', 'owner'])).toMatchObject({
      code: 0,
      stdout: 'stas\n',
    });
    expect(
      JSON.parse(nvmf(env, ['registry', 'retrieve', 'nvme3', '-a', 'seqnum', '-o', 'json']).stdout),
    ).toEqual({
      device: 'nvme3',
      attr: 'seqnum',
      value: '12',
    });
  });

  it.each([
    [['nvme3x', '-a', 'owner'], 2, 'invalid device name "nvme3x"'],
    [['nvme03', '-a', 'owner'], 2, 'invalid device name "nvme03"'],
    [['nvme3', '-a', '../../etc/passwd'], 2, 'invalid attribute name "../../etc/passwd"'],
    [['nvme9', '-a', 'owner'], 1, "nvme9 has no registry entry; see 'nvmf registry list --all'"],
    [['nvme4', '-a', 'owner'], 1, 'nvme4 has no attribute "owner"'],
    [['nvme3'], 2, "required option '-a, --attr <name>' not specified"],
  ])('%j exits %i: %s', (args, code, message) => {
    const r = nvmf(hostWithEntries().env, ['registry', 'retrieve', ...args]);
    expect(r.code).toBe(code);
    expect(r.messages).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('nvmf registry update', () => {
  it('sets a private attribute without asking', () => {
    const host = hostWithEntries();
    const r = nvmf(host.env, ['registry', 'update', 'nvme3', '-a', 'note', '-V', 'data']);
    expect(r.code).toBe(0);
    expect(nvmf(host.env, ['registry', 'retrieve', 'nvme3', '-a', 'note']).stdout).toBe('data\n');
  });

  it('owner: no terminal and no --yes refuses, exit 1, nothing changed', () => {
    const host = hostWithEntries();
    const r = nvmf(host.env, ['registry', 'update', 'nvme3', '-a', 'owner', '-V', 'bob'], 'y\n');
    expect(r.code).toBe(1);
    expect(r.messages).toContain(
      'refusing to ask for confirmation without a terminal; nothing was changed. Re-run with --yes',
    );
    expect(readOwner(host, 'nvme3')).toBe('stas');
  });

  it('owner: --yes changes it and audits the change', () => {
    const host = hostWithEntries();
    const r = nvmf(host.env, [
      'registry',
      'update',
      'nvme3',
      '-a',
      'owner',
      '-V',
      'bob',
      '--yes',
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ device: 'nvme3', attr: 'owner', value: 'bob', prevOwner: 'stas' });
    expect(readOwner(host, 'nvme3')).toBe('bob');
    expect(r.audit.some((a) => a['NVMF_ACTION'] === 'owner-changed' && a['NVMF_OWNER'] === 'bob')).toBe(true);
  });

  it.each([
    ['y\n', 0, 'bob'],
    ['YES\n', 0, 'bob'],
    ['n\n', 1, 'stas'],
    ['\n', 1, 'stas'],
    ['maybe\n', 1, 'stas'],
    ['', 1, 'stas'],
  ])('owner on a terminal, typed %j: exit %i, owner %s', (typed, code, owner) => {
    const host = hostWithEntries();
    const r = nvmfOnTerminal(host.env, ['registry', 'update', 'nvme3', '-a', 'owner', '-V', 'bob'], typed);
    expect(r.stdout).toContain('Set the owner of nvme3 from stas to bob? [y/N]');
    expect(r.code).toBe(code);
    expect(readOwner(host, 'nvme3')).toBe(owner);
    if (code === 1) expect(r.stdout).toContain('aborted; nothing was changed');
  });

  it('owner: with stderr redirected the question still reaches the terminal', () => {
    const host = hostWithEntries();
    const args = ['registry', 'update', 'nvme3', '-a', 'owner', '-V', 'bob'];
    const r = nvmfOnTerminal(host.env, args, 'y\n', '2>/dev/null');
    expect(r.stdout).toContain('Set the owner of nvme3 from stas to bob? [y/N]');
    expect(r.code).toBe(0);
    expect(readOwner(host, 'nvme3')).toBe('bob');
  });

  it.each([
    [['nvme3', '-a', 'seqnum', '-V', '5'], 2, 'attribute "seqnum" is reserved'],
    [['nvme3', '-a', 'owner', '-V', 'a/b', '--yes'], 2, 'invalid owner "a/b"'],
    [['nvme3', '-a', 'note', '-V', ''], 2, 'invalid value "" for attribute "note"'],
    [['nvme9', '-a', 'note', '-V', 'x'], 1, 'nvme9 has no registry entry'],
  ])('%j exits %i: %s', (args, code, message) => {
    const r = nvmf(hostWithEntries().env, ['registry', 'update', ...args]);
    expect(r.code).toBe(code);
    expect(r.messages).toContain(message);
  });
});

describe('nvmf registry delete', () => {
  it.each([
    ['yes\n', 0, false],
    ['n\n', 1, true],
  ])('entry on a terminal, typed %j: exit %i', (typed, code, remains) => {
    const host = hostWithEntries();
    const r = nvmfOnTerminal(host.env, ['registry', 'delete', 'nvme3'], typed);
    expect(r.stdout).toContain(
      'Delete the registry entry of nvme3 (owner stas)? Its controller will look unowned. [y/N]',
    );
    expect(r.code).toBe(code);
    expect(entryExists(host, 'nvme3')).toBe(remains);
  });

  it('entry without a terminal needs --yes', () => {
    const host = hostWithEntries();
    expect(nvmf(host.env, ['registry', 'delete', 'nvme3']).code).toBe(1);
    expect(entryExists(host, 'nvme3')).toBe(true);
    expect(nvmf(host.env, ['registry', 'delete', '/dev/nvme3', '--yes']).code).toBe(0);
    expect(entryExists(host, 'nvme3')).toBe(false);
  });

  it('-a owner asks, disowns, keeps the entry', () => {
    const host = hostWithEntries();
    const r = nvmfOnTerminal(host.env, ['registry', 'delete', 'nvme3', '-a', 'owner'], 'y\n');
    expect(r.stdout).toContain('Remove owner stas of nvme3? Its controller will look unowned. [y/N]');
    expect(r.code).toBe(0);
    expect(entryExists(host, 'nvme3')).toBe(true);
    expect(readOwner(host, 'nvme3')).toBeNull();
  });

  it('-a of a private attribute does not ask; a missing one is an error', () => {
    const host = hostWithEntries();
    expect(nvmf(host.env, ['registry', 'delete', 'nvme3', '-a', 'note']).code).toBe(0);
    const again = nvmf(host.env, ['registry', 'delete', 'nvme3', '-a', 'note']);
    expect(again.code).toBe(1);
    expect(again.messages).toContain('nvme3 has no attribute "note"');
  });
});

describe('nvmf registry claim', () => {
  it('--if-unowned claims an unowned entry and refuses an owned one', () => {
    const host = hostWithEntries();
    const ok = nvmf(host.env, ['registry', 'claim', 'nvme4', '--owner', 'bob', '--if-unowned', '-o', 'json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ device: 'nvme4', owner: 'bob', prevOwner: null });
    const no = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--if-unowned']);
    expect(no.code).toBe(1);
    expect(no.messages).toContain('stas');
    expect(readOwner(host, 'nvme3')).toBe('stas');
  });

  it('a conflict names --force, which claims anyway', () => {
    const host = hostWithEntries();
    const no = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--if-unowned']);
    expect(no.code).toBe(1);
    expect(no.messages).toContain(
      'nvme3 is owned by "stas", expected unowned; use --force to claim it anyway',
    );
    const yes = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--if-unowned', '--force']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(readOwner(host, 'nvme3')).toBe('bob');
    expect(yes.audit.map((r) => r['NVMF_ACTION'])).toEqual(['owner-changed']);
  });

  it('adopts a live controller that has no entry (stamped now, identity recorded); refuses a gone one', () => {
    const host = hostWithEntries();
    liveController(host, 'nvme5');
    const r = nvmf(host.env, ['registry', 'claim', 'nvme5', '--owner', 'x', '--if-unowned', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ device: 'nvme5', owner: 'x', prevOwner: null, created: true });
    const dir = path.join(host.env['NVMF_REGISTRY_ROOT']!, 'nvme5');
    // the current uevent seqnum of the host (tempHost writes 100)
    expect(fs.readFileSync(path.join(dir, 'seqnum'), 'utf8')).toBe('100\n');
    expect(fs.readFileSync(path.join(dir, 'ctrl_traddr'), 'utf8')).toBe('127.0.0.1\n');
    expect(fs.readFileSync(path.join(dir, 'ctrl_transport'), 'utf8')).toBe('tcp\n');
    expect(r.audit.map((a) => [a['NVMF_ACTION'], a['NVMF_REASON']])).toEqual([
      ['entry-created', 'claimed a controller that had no entry'],
    ]);
    const gone = nvmf(host.env, ['registry', 'claim', 'nvme6', '--owner', 'x', '--if-unowned']);
    expect(gone.code).toBe(1);
    expect(gone.messages).toContain('nvme6 does not exist');
    expect(entryExists(host, 'nvme6')).toBe(false);
  });

  it('an unknown owner (symlinked owner file) is refused without --force, replaced with it', () => {
    const host = hostWithEntries();
    const owner = path.join(host.env['NVMF_REGISTRY_ROOT']!, 'nvme3', 'owner');
    fs.rmSync(owner);
    fs.symlinkSync('/etc/hostname', owner);
    const no = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--if-unowned']);
    expect(no.code).toBe(1);
    expect(no.messages).toContain('use --force to replace the entry');
    const yes = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--force']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(fs.lstatSync(owner).isFile()).toBe(true);
    expect(readOwner(host, 'nvme3')).toBe('bob');
  });

  it('--expect compares and sets', () => {
    const host = hostWithEntries();
    expect(nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--expect', 'eve']).code).toBe(1);
    expect(readOwner(host, 'nvme3')).toBe('stas');
    expect(nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner', 'bob', '--expect', 'stas']).code).toBe(0);
    expect(readOwner(host, 'nvme3')).toBe('bob');
  });

  it.each([
    [
      ['nvme3', '--owner', 'bob', '--expect', 'stas', '--if-unowned'],
      2,
      '--expect and --if-unowned contradict each other',
    ],
    [['nvme3'], 2, "required option '--owner <name>' not specified"],
    [['nvme3', '--owner', 'a\nb'], 2, 'invalid owner "a\\nb"'],
  ])('%j exits %i: %s', (args, code, message) => {
    const r = nvmf(hostWithEntries().env, ['registry', 'claim', ...args]);
    expect(r.code).toBe(code);
    expect(r.messages).toContain(message);
  });
});

describe('nvmf registry gc', () => {
  it('--dry-run reports the stale entry and keeps it; gc removes it', () => {
    const host = hostWithEntries();
    const dry = nvmf(host.env, ['registry', 'gc', '--dry-run', '-o', 'json']);
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      removed: { device?: string }[];
      kept: unknown[];
    };
    expect(report.dryRun).toBe(true);
    expect(report.kept).toEqual([]);
    expect(report.removed.map((r) => r.device)).toContain('nvme7');
    expect(entryExists(host, 'nvme7')).toBe(true);
    expect(nvmf(host.env, ['registry', 'gc']).code).toBe(0);
    expect(entryExists(host, 'nvme7')).toBe(false);
    expect(entryExists(host, 'nvme3')).toBe(true);
  });

  it('--grace SECONDS: a fresh leftover stays under the default 60 s and goes with --grace 0', () => {
    const host = tempHost();
    const root = host.env['NVMF_REGISTRY_ROOT'] as string;
    const tmp = path.join(root, '.nvme4.tmp.999999.ab');
    fs.mkdirSync(tmp);
    expect(JSON.parse(nvmf(host.env, ['registry', 'gc', '-o', 'json']).stdout).removed).toEqual([]);
    expect(
      JSON.parse(nvmf(host.env, ['registry', 'gc', '--grace', '3600', '-o', 'json']).stdout).removed,
    ).toEqual([]);
    expect(fs.existsSync(tmp)).toBe(true);
    const r = nvmf(host.env, ['registry', 'gc', '--grace', '0', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).removed).toEqual([
      { path: tmp, kind: 'temp', reason: 'unfinished write older than 0 ms' },
    ]);
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it.each(['-1', 'abc', '1e3', '', '0.0001'])('--grace %j is a usage error', (v) => {
    const r = nvmf(tempHost().env, ['registry', 'gc', '--grace', v]);
    expect(r.code).toBe(2);
    expect(r.messages).toContain('--grace');
  });
});
