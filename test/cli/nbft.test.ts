import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simInit } from '../../src/kernel/sim.js';
import { buildNbft, type NbftInput, sampleInput } from '../nbft/build.js';
import { nvmf, nvmfOnTerminal } from './helpers.js';

/**
 * The NBFT on a simulated host, through the built CLI: `sim nbft` installs a table the test
 * encoder built, `nbft show` decodes it, `connect-all --nbft` connects it, and every
 * disconnect-all mode keeps the boot device.
 */
const BOOT = 'nqn.2024-01.io.example:boot';
const DATA = 'nqn.2024-01.io.example:data';
const OTHER = 'nqn.2024-01.io.example:other';

function bootTable(): NbftInput {
  const t = sampleInput();
  const s = t.subsystems[0]!;
  t.subsystems = [
    { ...s, traddr: '127.0.0.1', trsvcid: '4420', subsysNqn: BOOT, nsid: 1, discoveryIndex: null },
    // a second namespace of the same subsystem: one connect serves both entries
    { ...s, index: 2, traddr: '127.0.0.1', trsvcid: '4420', subsysNqn: BOOT, nsid: 2, discoveryIndex: null },
  ];
  t.discovery = [];
  return t;
}

interface Sim {
  base: string;
  dir: string;
  env: Record<string, string>;
}

async function simHost(): Promise<Sim> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-nbft-'));
  const dir = path.join(base, 'host');
  const at = { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' } as const;
  await simInit(dir, {
    targets: {
      subsystems: [
        { nqn: BOOT, ...at, namespaces: 2 },
        { nqn: DATA, ...at, namespaces: 1 },
        { nqn: OTHER, ...at, namespaces: 1 },
      ],
      discovery: [{ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '8009' }],
    },
  });
  fs.mkdirSync(path.join(base, 'etc', 'nvme'), { recursive: true });
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: base,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(base, 'etc'),
  };
  return { base, dir, env };
}

function installTable(sim: Sim, bytes: Uint8Array, name = 'NBFT'): void {
  const file = path.join(sim.base, `${name}.bin`);
  fs.writeFileSync(file, bytes);
  const r = nvmf(sim.env, ['sim', 'nbft', sim.dir, file, ...(name === 'NBFT' ? [] : ['--name', name])]);
  expect(r.code, r.stderr).toBe(0);
}

type PlanJson = { plan: { device: string; action: string; reason: string; owner: string | null }[] };
const json = <T>(s: string): T => JSON.parse(s) as T;

describe('NBFT on the simulated host', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await simHost();
    installTable(sim, buildNbft(bootTable()));
  });
  afterAll(() => fs.rmSync(sim.base, { recursive: true, force: true }));

  it('sim nbft puts the blob where the kernel exposes it, owner-readable only', () => {
    const f = path.join(sim.dir, 'sys', 'firmware', 'acpi', 'tables', 'NBFT');
    expect(fs.statSync(f).mode & 0o777).toBe(0o400);
  });

  it('nbft show decodes the table; nothing serves it yet', () => {
    const r = nvmf(sim.env, ['nbft', 'show', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{
      tables: {
        name: string;
        host: { hostNqn: string };
        subsystems: { subsysNqn: string; controllers: string[] }[];
      }[];
    }>(r.stdout);
    expect(j.tables).toHaveLength(1);
    expect(j.tables[0]!.host.hostNqn).toBe(sampleInput().host.hostNqn);
    expect(j.tables[0]!.subsystems.map((s) => [s.subsysNqn, s.controllers])).toEqual([
      [BOOT, []],
      [BOOT, []],
    ]);
    const t = nvmf(sim.env, ['nbft', 'show']);
    expect(t.stdout).toContain('not connected');
  });

  it('connect-all --nbft connects each subsystem once, owner nbft, host identity from the table; again: reused', () => {
    const r = nvmf(sim.env, ['connect-all', '--nbft', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{
      results: { entry: { index: number }; ok: boolean; device: string; owner: string; reused: boolean }[];
    }>(r.stdout);
    expect(j.results.map((i) => [i.entry.index, i.ok, i.device, i.owner])).toEqual([
      [1, true, 'nvme0', 'nbft'],
      [2, true, 'nvme0', 'nbft'],
    ]);
    const hostnqn = fs
      .readFileSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme0', 'hostnqn'), 'utf8')
      .trim();
    expect(hostnqn).toBe(sampleInput().host.hostNqn);
    const again = json<typeof j>(nvmf(sim.env, ['connect-all', '--nbft', '-o', 'json']).stdout);
    expect(again.results.every((i) => i.ok && i.reused && i.device === 'nvme0')).toBe(true);
    const show = json<{ tables: { subsystems: { controllers: string[] }[] }[] }>(
      nvmf(sim.env, ['nbft', 'show', '-o', 'json']).stdout,
    );
    expect(show.tables[0]!.subsystems[0]!.controllers).toEqual(['nvme0']);
  });

  it('connect-all --nbft refuses a target or host identity on the command line (usage, exit 2)', () => {
    const r = nvmf(sim.env, ['connect-all', '--nbft', '-a', '127.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('drop -a/--traddr');
  });

  it('every disconnect-all mode keeps the boot device, whatever its owner; only --ignore-boot-critical plans it', () => {
    // an unowned data controller next to it
    expect(nvmf(sim.env, ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', DATA]).code).toBe(0);
    for (const mode of [[], ['--force'], ['--owner', 'nbft']]) {
      const r = nvmf(sim.env, ['disconnect-all', ...mode, '--dry-run', '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const boot = json<PlanJson>(r.stdout).plan.find((i) => i.device === 'nvme0');
      expect(boot, mode.join(' ')).toMatchObject({ action: 'skip', reason: 'boot device (NBFT)' });
    }
    // the registry entry gone: still the boot device
    expect(nvmf(sim.env, ['registry', 'delete', 'nvme0', '--yes']).code).toBe(0);
    const unowned = json<PlanJson>(nvmf(sim.env, ['disconnect-all', '--dry-run', '-o', 'json']).stdout);
    expect(unowned.plan.find((i) => i.device === 'nvme0')).toMatchObject({
      owner: null,
      action: 'skip',
      reason: 'boot device (NBFT)',
    });
    expect(unowned.plan.find((i) => i.device === 'nvme1')?.action).toBe('disconnect');
    const ignored = json<PlanJson>(
      nvmf(sim.env, ['disconnect-all', '--force', '--ignore-boot-critical', '--dry-run', '-o', 'json'])
        .stdout,
    );
    expect(ignored.plan.find((i) => i.device === 'nvme0')?.action).toBe('disconnect');
    // carried out: the data controller goes, the boot device stays
    const done = nvmf(sim.env, ['disconnect-all', '--force', '--yes', '-o', 'json']);
    expect(done.code, done.stderr).toBe(0);
    expect(fs.existsSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme0'))).toBe(true);
    expect(fs.existsSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme1'))).toBe(false);
  });

  it('a targeted disconnect of the boot device: refused without a terminal, the reason shown; asked on one; --yes', () => {
    const refused = nvmf(sim.env, ['disconnect', '-d', 'nvme0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `nvme0: boot device (NBFT): serves NBFT subsystem entry 1 (tcp 127.0.0.1:4420 ${BOOT})`,
    );
    expect(refused.stderr).toContain('Re-run with --yes');
    expect(fs.existsSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme0'))).toBe(true);
    const no = nvmfOnTerminal(sim.env, ['disconnect', '-d', 'nvme0'], 'no\n');
    expect(no.code).toBe(1);
    expect(no.stdout).toContain("Disconnect this boot device? Type 'yes' to continue:");
    expect(fs.existsSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme0'))).toBe(true);
    const yes = nvmf(sim.env, ['disconnect', '-d', 'nvme0', '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(fs.existsSync(path.join(sim.dir, 'sys', 'class', 'nvme', 'nvme0'))).toBe(false);
  });
});

describe('an NBFT table that cannot be decoded (fail safe)', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await simHost();
    const bytes = buildNbft(bootTable());
    bytes[40] = (bytes[40]! + 1) & 0xff; // breaks the checksum
    installTable(sim, bytes);
    expect(nvmf(sim.env, ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-n', DATA]).code).toBe(0);
  });
  afterAll(() => fs.rmSync(sim.base, { recursive: true, force: true }));

  it('nbft show names the table and the field, exit 1', () => {
    const r = nvmf(sim.env, ['nbft', 'show']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^NBFT: ERROR: NBFT table NBFT: checksum/m);
  });

  it('disconnect-all skips every fabrics controller with the table error, --force included; --ignore-boot-critical overrides', () => {
    const r = nvmf(sim.env, ['disconnect-all', '--force', '--dry-run', '-o', 'json']);
    const item = json<PlanJson>(r.stdout).plan.find((i) => i.device === 'nvme0');
    expect(item?.action).toBe('skip');
    expect(item?.reason).toMatch(
      /^boot table unreadable, the boot device cannot be told \(NBFT table NBFT: checksum/,
    );
    const o = json<PlanJson>(
      nvmf(sim.env, ['disconnect-all', '--force', '--ignore-boot-critical', '--dry-run', '-o', 'json'])
        .stdout,
    );
    expect(o.plan.find((i) => i.device === 'nvme0')?.action).toBe('disconnect');
  });

  it('connect-all --nbft reports the table, exit 3', () => {
    const r = nvmf(sim.env, ['connect-all', '--nbft']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('NBFT: FAILED: NBFT table NBFT: checksum');
  });
});

describe('exclusion lists', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await simHost();
  });
  afterAll(() => fs.rmSync(sim.base, { recursive: true, force: true }));
  const conf = (): string => path.join(sim.base, 'etc', 'nvme', 'exclusions.conf');

  it('exclusion add, list and remove edit the default list in upstream grammar', () => {
    expect(nvmf(sim.env, ['exclusion', 'list']).stdout).toBe('no exclusion entries\n');
    const add = nvmf(sim.env, ['exclusion', 'add', `nqn=${OTHER}`]);
    expect(add.code, add.stderr).toBe(0);
    expect(fs.readFileSync(conf(), 'utf8')).toBe(`[exclusions]\nexclusion = nqn=${OTHER}\n`);
    expect(nvmf(sim.env, ['exclusion', 'add', ` nqn = ${OTHER} ;`]).stdout).toContain('already in');
    const bad = nvmf(sim.env, ['exclusion', 'add', 'subsysnqn=x']);
    expect(bad.code).toBe(2);
    const list = json<{ entries: { list: string | null; line: number; entry: Record<string, string> }[] }>(
      nvmf(sim.env, ['exclusion', 'list', '-o', 'json']).stdout,
    );
    expect(list.entries).toEqual([expect.objectContaining({ list: null, line: 2, entry: { nqn: OTHER } })]);
    expect(nvmf(sim.env, ['exclusion', 'add', 'transport=tcp;traddr=192.0.2.1', '--list', 'lab']).code).toBe(
      0,
    );
    expect(
      fs.readFileSync(path.join(sim.base, 'etc', 'nvme', 'exclusions.conf.d', 'lab.conf'), 'utf8'),
    ).toContain('exclusion = transport=tcp;traddr=192.0.2.1');
    expect(
      nvmf(sim.env, ['exclusion', 'remove', 'traddr=192.0.2.1;transport=tcp', '--list', 'lab']).code,
    ).toBe(0);
    expect(
      nvmf(sim.env, ['exclusion', 'remove', 'traddr=192.0.2.1;transport=tcp', '--list', 'lab']).code,
    ).toBe(2);
  });

  it('connect-all skips an excluded subsystem with the entry that excludes it; connect of it is not blocked', () => {
    const r = nvmf(sim.env, ['connect-all', '-t', 'tcp', '-a', '127.0.0.1', '-s', '8009', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{
      results: { target: { subnqn: string } }[];
      excluded: { target: { subnqn: string }; reason: string }[];
    }>(r.stdout);
    expect(j.results.map((i) => i.target.subnqn).sort()).toEqual([BOOT, DATA]);
    expect(j.excluded).toEqual([
      {
        target: expect.objectContaining({ subnqn: OTHER }),
        reason: `excluded by ${conf()}:2 (nqn=${OTHER})`,
      },
    ]);
    // -vv: text with long values whole (the default fits 80 columns, shortening the NQN)
    const text = nvmf(sim.env, ['connect-all', '-vv', '-t', 'tcp', '-a', '127.0.0.1', '-s', '8009']);
    expect(text.stdout).toContain(`${OTHER}: skipped (tcp 127.0.0.1:4420): excluded by`);
    const one = nvmf(sim.env, ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-n', OTHER]);
    expect(one.code, one.stderr).toBe(0);
  });

  it('disconnect --exclude adds the target to the default list', () => {
    const r = nvmf(sim.env, ['disconnect', '-n', DATA, '--exclude']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(conf(), 'utf8')).toContain(
      `exclusion = transport=tcp;traddr=127.0.0.1;trsvcid=4420;nqn=${DATA}\n`,
    );
  });

  it('an NBFT entry is excluded only by an entry that names it', () => {
    nvmf(sim.env, ['disconnect-all', '--force', '--yes']);
    installTable(sim, buildNbft(bootTable()));
    expect(nvmf(sim.env, ['exclusion', 'add', 'transport=tcp']).code).toBe(0);
    const broad = json<{ results: { ok: boolean }[]; excluded: unknown[] }>(
      nvmf(sim.env, ['connect-all', '--nbft', '-o', 'json']).stdout,
    );
    expect(broad.results.every((i) => i.ok)).toBe(true);
    expect(broad.excluded).toEqual([]);
    nvmf(sim.env, ['disconnect-all', '--force', '--ignore-boot-critical', '--yes']);
    expect(nvmf(sim.env, ['exclusion', 'add', `nqn=${BOOT}`]).code).toBe(0);
    const named = json<{ results: unknown[]; excluded: { entry: { index: number }; reason: string }[] }>(
      nvmf(sim.env, ['connect-all', '--nbft', '-o', 'json']).stdout,
    );
    expect(named.results).toEqual([]);
    expect(named.excluded.map((x) => x.entry.index)).toEqual([1, 2]);
  });
});

describe('connect-all --nbft follows the discovery descriptors', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await simHost();
    const t = bootTable();
    t.subsystems = [t.subsystems[0]!];
    t.discovery = [
      { index: 1, hfiIndex: 1, securityIndex: null, uri: 'nvme+tcp://127.0.0.1:8009/', nqn: null },
    ];
    installTable(sim, buildNbft(t));
    fs.writeFileSync(
      path.join(sim.base, 'etc', 'nvme', 'exclusions.conf'),
      `[exclusions]\nexclusion = nqn=${OTHER}\n`,
    );
  });
  afterAll(() => fs.rmSync(sim.base, { recursive: true, force: true }));

  it("connects the discovery controller's subsystems with the table's host identity, skipping an excluded one", () => {
    const r = nvmf(sim.env, ['connect-all', '--nbft', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{
      results: { ok: boolean; device: string }[];
      discovery: {
        uri: string;
        error: string | null;
        results: {
          target: { subnqn: string };
          ok: boolean;
          device: string;
          owner: string;
          reused: boolean;
        }[];
        excluded: { target: { subnqn: string } }[];
      }[];
    }>(r.stdout);
    expect(j.results.map((i) => [i.ok, i.device])).toEqual([[true, 'nvme0']]);
    const d = j.discovery[0]!;
    expect(d.error).toBeNull();
    expect(d.results.map((i) => [i.target.subnqn, i.ok, i.owner, i.reused]).sort()).toEqual(
      [
        [BOOT, true, 'nbft', true],
        [DATA, true, 'nbft', false],
      ].sort(),
    );
    expect(d.excluded.map((x) => x.target.subnqn)).toEqual([OTHER]);
    const data = d.results.find((i) => i.target.subnqn === DATA)!.device;
    const hostnqn = fs
      .readFileSync(path.join(sim.dir, 'sys', 'class', 'nvme', data, 'hostnqn'), 'utf8')
      .trim();
    expect(hostnqn).toBe(sampleInput().host.hostNqn);
  });
});
