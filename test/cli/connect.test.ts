import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN, nvmf } from './helpers.js';
import { NQN } from './sim-host.js';

async function emptySim(): Promise<Record<string, string>> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-conn-'));
  const dir = path.join(base, 'host');
  const targets = path.join(base, 'targets.json');
  fs.writeFileSync(
    targets,
    JSON.stringify({
      subsystems: [1, 2].map((n) => ({
        nqn: NQN(n),
        transport: 'tcp',
        traddr: '127.0.0.1',
        trsvcid: '4420',
        namespaces: 2,
      })),
      discovery: [{ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '8009' }],
    }),
  );
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: base,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(base, 'etc'),
    NVMF_AUDIT_SINK: 'stderr',
  };
  const init = nvmf(env, ['sim', 'init', dir, '--targets', targets]);
  expect(init.code, init.stderr).toBe(0);
  return env;
}

const TCP = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];

describe('nvmf connect', () => {
  it('prints the JSON shape of DESIGN §10; reuse claims, --owner= disowns', async () => {
    const env = await emptySim();
    const first = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'stas', '--wait', '-o', 'json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      device: 'nvme0',
      cntlid: expect.any(Number),
      owner: 'stas',
      reused: false,
      namespaces: ['nvme0n1', 'nvme0n2'],
    });
    const conflict = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'bob']);
    expect(conflict.code).toBe(1);
    expect(conflict.messages).toContain('owned by "stas"');
    expect(conflict.messages).toContain('--force');
    // Disowning someone else's controller is a conflict too, unless forced; the output says what changed.
    const refused = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner=']);
    expect(refused.code).toBe(1);
    expect(refused.messages).toContain('connect --owner= --force to disown it');
    const disown = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner=', '--force', '-o', 'json']);
    expect(disown.code, disown.stderr).toBe(0);
    expect(JSON.parse(disown.stdout)).toMatchObject({
      device: 'nvme0',
      owner: null,
      reused: true,
      change: 'disowned from "stas"',
    });
    const text = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'stas']);
    expect(text.stdout).toContain('claimed');
    const nbft = nvmf(env, ['connect', ...TCP, '-n', NQN(2), '--nbft', '-o', 'json']);
    expect(JSON.parse(nbft.stdout)).toMatchObject({ device: 'nvme1', owner: 'nbft' });
    const both = nvmf(env, ['connect', ...TCP, '-n', NQN(2), '--nbft', '--owner', 'nbft', '-o', 'json']);
    expect(JSON.parse(both.stdout)).toMatchObject({ device: 'nvme1', owner: 'nbft', reused: true });
  });

  it('list -v shows the Orchestrator column; JSON carries the owner', async () => {
    const env = await emptySim();
    nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'stas']);
    nvmf(env, ['connect', ...TCP, '-n', NQN(2)]);
    const plain = nvmf(env, ['list']);
    expect(plain.stdout.split('\n')[0]).toMatch(/^Device\s+Transport\s+Address\s+Subsystem\s+State$/);
    const v = nvmf(env, ['list', '-vv']).stdout.split('\n');
    expect(v[0]).toMatch(/Orchestrator$/);
    expect(v[2]).toMatch(
      /^nvme0\s+tcp\s+traddr=127\.0\.0\.1,trsvcid=4420\S*\s+nqn\.2014-08\.org\.example:vol1\s+live\s+stas$/,
    );
    expect(v[3]).toMatch(/^nvme1\s+tcp\s+.*\s+live\s+-$/);
    const json = JSON.parse(nvmf(env, ['list', '-o', 'json']).stdout) as {
      controllers: Record<string, unknown>[];
    };
    expect(json.controllers.map((c) => [c['device'], c['owner'], c['fabrics']])).toEqual([
      ['nvme0', 'stas', true],
      ['nvme1', null, true],
    ]);
  });

  it('host NQN and ID default to <etc>/nvme/hostnqn and hostid', async () => {
    const env = await emptySim();
    const etc = path.join(env['NVMF_ETC_ROOT']!, 'nvme');
    fs.mkdirSync(etc, { recursive: true });
    fs.writeFileSync(
      path.join(etc, 'hostnqn'),
      'nqn.2014-08.org.nvmexpress:uuid:7a4ef2a4-6a0c-4e0e-9b8b-0f3a3c6e6a11\n',
    );
    fs.writeFileSync(path.join(etc, 'hostid'), '7a4ef2a4-6a0c-4e0e-9b8b-0f3a3c6e6a11\n');
    expect(nvmf(env, ['connect', ...TCP, '-n', NQN(1)]).code).toBe(0);
    const sys = path.join(env['NVMF_KERNEL']!.slice(4), 'sys', 'class', 'nvme', 'nvme0');
    expect(fs.readFileSync(path.join(sys, 'hostnqn'), 'utf8').trim()).toBe(
      'nqn.2014-08.org.nvmexpress:uuid:7a4ef2a4-6a0c-4e0e-9b8b-0f3a3c6e6a11',
    );
    expect(fs.readFileSync(path.join(sys, 'hostid'), 'utf8').trim()).toBe(
      '7a4ef2a4-6a0c-4e0e-9b8b-0f3a3c6e6a11',
    );
  });

  it.each([
    [['-a', '127.0.0.1', '-n', NQN(1)], 2, 'transport is required', '-t/--transport'],
    [['-t', 'xyz', '-a', '127.0.0.1', '-n', NQN(1)], 2, 'transport "xyz" is not supported', '-t/--transport'],
    [[...TCP], 2, 'nqn (the subsystem NQN) is required', '-n/--nqn'],
    [[...TCP, '-n', 'not-an-nqn'], 2, 'not-an-nqn', '-n/--nqn'],
    [[...TCP, '-n', NQN(1), '-I', 'zzz'], 2, 'hostid "zzz" is not a UUID', '-I/--hostid'],
    [[...TCP, '-n', NQN(1), '-i', 'many'], 2, 'many', '-i/--nr-io-queues'],
    [[...TCP, '-n', NQN(1), '--owner', 'a/b'], 2, 'invalid owner "a/b"', ''],
    [[...TCP, '-n', NQN(1), '--bogus'], 2, "unknown option '--bogus'", ''],
  ])('%j: exit %i, message names %s', async (args, code, message, flag) => {
    const env = await emptySim();
    const r = nvmf(env, ['connect', ...args]);
    expect(r.code).toBe(code);
    expect(r.messages).toContain(message);
    if (flag !== '') expect(r.messages).toContain(`(option ${flag})`);
    expect(r.stdout).toBe('');
  });

  it('a secret never appears in an error', async () => {
    const env = await emptySim();
    const secret = 'DHHC-1:00:not-a-valid-secret-value-at-all:';
    const r = nvmf(env, ['connect', ...TCP, '-n', NQN(1), '-S', secret]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain('not-a-valid-secret-value');
  });

  it('a refused connect exits 1 and says what happened', async () => {
    const env = await emptySim();
    const r = nvmf(env, ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4999', '-n', NQN(1)]);
    expect(r.code).toBe(1);
    expect(r.messages).toMatch(/^nvmf: .*4999/m);
  });
});

describe('nvmf discover / connect-all / disconnect', () => {
  it('discover lists both subsystems; connect-all connects them with the owner', async () => {
    const env = await emptySim();
    const d = nvmf(env, ['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', '8009', '-o', 'json']);
    expect(d.code, d.stderr).toBe(0);
    const doc = JSON.parse(d.stdout) as { entries: { subnqn: string; kind: string }[] };
    expect(doc.entries.filter((e) => e.kind === 'nvm').map((e) => e.subnqn)).toEqual([NQN(1), NQN(2)]);
    const all = nvmf(env, [
      'connect-all',
      '-t',
      'tcp',
      '-a',
      '127.0.0.1',
      '-s',
      '8009',
      '--owner',
      'stas',
      '-o',
      'json',
    ]);
    expect(all.code, all.stderr).toBe(0);
    const res = JSON.parse(all.stdout) as { results: { ok: boolean; device: string; owner: string }[] };
    expect(res.results.map((x) => [x.ok, x.owner])).toEqual([
      [true, 'stas'],
      [true, 'stas'],
    ]);
    const reg = JSON.parse(nvmf(env, ['registry', 'list', '-o', 'json']).stdout) as {
      entries: { owner: string }[];
    };
    expect(reg.entries.map((e) => e.owner)).toEqual(['stas', 'stas']);
  });

  it('disconnect -d removes one; bad or missing devices are named', async () => {
    const env = await emptySim();
    nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'stas']);
    expect(nvmf(env, ['disconnect', '-d', '/dev/nvme0', '-o', 'json']).stdout).toBe(
      '{"results":[{"device":"nvme0","ok":true}]}\n',
    );
    const gone = nvmf(env, ['disconnect', '-d', 'nvme0']);
    expect(gone.code).toBe(1);
    expect(gone.messages).toContain("nvme0 does not exist; see 'nvmf list'");
    const bad = nvmf(env, ['disconnect', '-d', 'sda']);
    expect(bad.code).toBe(2);
    expect(bad.messages).toContain('invalid device name "sda"');
    const none = nvmf(env, ['disconnect']);
    expect(none.code).toBe(2);
    expect(none.messages).toContain('give exactly one of -d/--device nvmeN and -n/--nqn NQN');
  });

  it('disconnect without the right to write delete_controller fails and changes nothing', async () => {
    const env = await emptySim();
    const dir = (env.NVMF_KERNEL as string).slice('sim:'.length);
    expect(nvmf(env, ['connect', ...TCP, '-n', NQN(1), '--owner', 'stas']).code).toBe(0);
    // Take the write bit from the attribute (the sim makes it 0200 like sysfs). As root, also
    // drop every capability (setpriv) so the mode binds: the CLI stays readable wherever the
    // checkout is, which a switch to another user would not promise.
    fs.chmodSync(path.join(dir, 'sys/class/nvme/nvme0/delete_controller'), 0o000);
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot
      ? [
          'setpriv',
          ['--bounding-set=-all', '--inh-caps=-all', process.execPath, MAIN, 'disconnect', '-d', 'nvme0'],
        ]
      : [process.execPath, [MAIN, 'disconnect', '-d', 'nvme0']];
    const r = spawnSync(cmd[0] as string, cmd[1] as string[], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).not.toContain('disconnected');
    expect(r.stderr).toMatch(/EACCES|permission/i);
    expect(r.stderr).not.toContain('"NVMF_ACTION":"disconnect"');
    const list = nvmf(env, ['list', '-o', 'json']);
    expect(list.stdout).toContain('"nvme0"');
    expect(list.stdout).toContain('"live"');
  });
});

describe('global behaviour', () => {
  it('--version, --help with examples, unknown command, bad -o', async () => {
    const env = await emptySim();
    expect(nvmf(env, ['--version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const help = nvmf(env, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('Exit status: 0 ok, 1 error or aborted, 2 usage error, 3 partial failure.');
    expect(nvmf(env, ['disconnect-all', '--help']).stdout).toContain(
      'PCIe/local   never        never        never',
    );
    const unknown = nvmf(env, ['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.messages).toContain("unknown command 'frobnicate'");
    const badFormat = nvmf(env, ['list', '-o', 'yaml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.messages).toContain("argument 'yaml' is invalid. Allowed choices are normal, json.");
  });

  it('errors are JSON on stderr with -o json', async () => {
    const env = await emptySim();
    const r = nvmf(env, ['registry', 'retrieve', 'nvme05', '-a', 'owner', '-o', 'json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.messages)).toEqual({
      error: { code: 'EINVALID_DEVICE', message: expect.stringContaining('"nvme05"') },
    });
  });

  it('a broken config file is named', async () => {
    const env = await emptySim();
    fs.mkdirSync(path.join(env['NVMF_ETC_ROOT']!, 'nvme'), { recursive: true });
    fs.writeFileSync(path.join(env['NVMF_ETC_ROOT']!, 'nvme', 'nvmf.json'), '{plugins');
    const r = nvmf(env, ['list']);
    expect(r.code).toBe(1);
    expect(r.messages).toContain(
      `${path.join(env['NVMF_ETC_ROOT']!, 'nvme', 'nvmf.json')} is not valid JSON`,
    );
  });
});
