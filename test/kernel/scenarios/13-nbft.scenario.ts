/**
 * Scenario 13: the NBFT on the real kernel. The VM booted with an NBFT table the test built
 * (vm.sh, lib/nbft-boot.ts) describing a boot subsystem on the guest's nvmet port; this
 * scenario exports that subsystem, then: the kernel exposes the table, `nvmf nbft show`
 * decodes it, `connect-all --nbft` connects it with owner nbft and the table's host NQN,
 * `disconnect-all --force` keeps it with the boot reason (and still after its owner entry is
 * removed), a targeted disconnect refuses without --yes, and an exclusion file makes
 * `connect-all` skip one subsystem.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeNbft } from '../../../src/nbft/decode.js';
import {
  attr,
  CLI,
  controllers,
  entryOnDisk,
  nvmf,
  nvmfJson,
  resetHost,
  target,
  udevSettle,
} from '../lib/guest.js';
import { NBFT_BOOT } from '../lib/nbft-boot.js';

const NVMET = '/sys/kernel/config/nvmet';
const SUBSYS = path.join(NVMET, 'subsystems', NBFT_BOOT.nqn);
const NS = path.join(SUBSYS, 'namespaces', '1');
const LINK = path.join(target.nvmetPort, 'subsystems', NBFT_BOOT.nqn);
const BACKING = '/tmp/kt-nbft-boot.img';
const TABLE = '/sys/firmware/acpi/tables/NBFT';
let etc = '';

function bootControllers(): string[] {
  return controllers().filter((d) => attr(d, 'subsysnqn') === NBFT_BOOT.nqn);
}

/** The built CLI with an etc root of the scenario's own (its exclusion lists). */
function nvmfEtc(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NVMF_KERNEL: '', NVMF_ETC_ROOT: etc },
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

type Plan = { plan: { device: string; action: string; reason: string; owner: string | null }[] };

before(() => {
  resetHost();
  // the boot subsystem: one file-backed namespace, on the guest's port
  writeFileSync(BACKING, Buffer.alloc(0));
  execFileSync('truncate', ['-s', '16M', BACKING]);
  mkdirSync(SUBSYS, { recursive: true });
  writeFileSync(path.join(SUBSYS, 'attr_allow_any_host'), '1');
  mkdirSync(NS, { recursive: true });
  writeFileSync(path.join(NS, 'device_path'), BACKING);
  // the guest's /tmp does not take O_DIRECT, which nvmet's file backend uses unless buffered
  writeFileSync(path.join(NS, 'buffered_io'), '1');
  writeFileSync(path.join(NS, 'enable'), '1');
  if (!existsSync(LINK)) symlinkSync(SUBSYS, LINK);
  etc = mkdtempSync(path.join(os.tmpdir(), 'kt-nbft-etc-'));
});

after(() => {
  resetHost();
  if (existsSync(LINK)) unlinkSync(LINK);
  if (existsSync(NS)) {
    writeFileSync(path.join(NS, 'enable'), '0');
    rmdirSync(NS);
  }
  if (existsSync(SUBSYS)) rmdirSync(SUBSYS);
  rmSync(BACKING, { force: true });
  rmSync(etc, { recursive: true, force: true });
  udevSettle();
});

test('the kernel exposes the table the VM booted with; nvme-cli did not connect it at boot', () => {
  assert.ok(existsSync(TABLE), `${TABLE} exists`);
  const t = decodeNbft(readFileSync(TABLE), 'NBFT');
  assert.equal(t.host.hostNqn, NBFT_BOOT.hostNqn);
  assert.deepEqual(
    t.subsystems.map((s) => [s.transport, s.traddr, s.trsvcid, s.subsysNqn]),
    [['tcp', NBFT_BOOT.traddr, NBFT_BOOT.trsvcid, NBFT_BOOT.nqn]],
  );
  for (const unit of [
    'nvmf-autoconnect.service',
    'nvmf-connect-nbft.service',
    'nvmefc-boot-connections.service',
  ]) {
    const show = execFileSync('systemctl', ['show', '-p', 'LoadState,ActiveState', unit], {
      encoding: 'utf8',
    });
    console.log(`kt-fact nbft.unit ${unit} ${show.trim().replace(/\n/g, ' ')}`);
    assert.match(show, /ActiveState=inactive/, `${unit} never ran`);
  }
  assert.deepEqual(bootControllers(), [], 'nothing connected the boot subsystem before this scenario');
});

test('nvmf nbft show decodes it and names no controller yet', () => {
  const j = nvmfJson<{
    tables: {
      name: string;
      host: { hostNqn: string };
      subsystems: { subsysNqn: string; controllers: string[] }[];
    }[];
  }>(['nbft', 'show']);
  assert.equal(j.tables.length, 1);
  assert.equal(j.tables[0]!.name, 'NBFT');
  assert.equal(j.tables[0]!.host.hostNqn, NBFT_BOOT.hostNqn);
  assert.deepEqual(
    j.tables[0]!.subsystems.map((s) => [s.subsysNqn, s.controllers]),
    [[NBFT_BOOT.nqn, []]],
  );
});

let boot = '';

test('connect-all --nbft connects it with owner nbft and the host NQN of the table', () => {
  const r = nvmfJson<{ results: { ok: boolean; device: string; owner: string; error?: string }[] }>([
    'connect-all',
    '--nbft',
  ]);
  assert.equal(r.results.length, 1);
  const item = r.results[0]!;
  assert.equal(item.ok, true, item.error);
  assert.equal(item.owner, 'nbft');
  boot = item.device;
  assert.equal(attr(boot, 'subsysnqn'), NBFT_BOOT.nqn);
  assert.equal(attr(boot, 'hostnqn'), NBFT_BOOT.hostNqn);
  assert.equal(attr(boot, 'state'), 'live');
  assert.equal(entryOnDisk(boot)?.owner, 'nbft');
  const show = nvmfJson<{ tables: { subsystems: { controllers: string[] }[] }[] }>(['nbft', 'show']);
  assert.deepEqual(show.tables[0]!.subsystems[0]!.controllers, [boot]);
});

test('disconnect-all --force keeps it with the boot reason; after its owner entry is removed too', () => {
  // an unowned controller beside it, which --force does take
  const other = nvmfJson<{ device: string }>([
    'connect',
    '-t',
    'tcp',
    '-a',
    target.traddr,
    '-s',
    target.trsvcid,
    '-n',
    target.nqn2,
  ]).device;
  const r = nvmfJson<Plan>(['disconnect-all', '--force', '--yes']);
  assert.deepEqual(
    r.plan.find((i) => i.device === boot),
    { device: boot, transport: 'tcp', owner: 'nbft', action: 'skip', reason: 'boot device (NBFT)' },
  );
  assert.equal(r.plan.find((i) => i.device === other)?.action, 'disconnect');
  udevSettle();
  assert.deepEqual(bootControllers(), [boot]);
  assert.equal(controllers().includes(other), false);

  assert.equal(nvmf(['registry', 'delete', boot, '--yes']).status, 0);
  assert.equal(entryOnDisk(boot), null);
  for (const mode of [[], ['--force']]) {
    const p = nvmfJson<Plan>(['disconnect-all', ...mode, '--yes']);
    assert.deepEqual(
      p.plan.find((i) => i.device === boot),
      { device: boot, transport: 'tcp', owner: null, action: 'skip', reason: 'boot device (NBFT)' },
      mode.join(' '),
    );
  }
  assert.deepEqual(bootControllers(), [boot]);
});

test('a targeted disconnect of it refuses without a terminal and --yes, saying why', () => {
  const r = nvmf(['disconnect', '-d', boot]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${boot}: boot device \\(NBFT\\): serves NBFT subsystem entry 1`));
  assert.match(r.stderr, /Re-run with --yes/);
  assert.deepEqual(bootControllers(), [boot]);
});

test('an exclusion file makes connect-all skip one subsystem', () => {
  mkdirSync(path.join(etc, 'nvme'), { recursive: true });
  const conf = path.join(etc, 'nvme', 'exclusions.conf');
  writeFileSync(conf, `# kernel scenario 13\n[exclusions]\nexclusion = transport=tcp;nqn=${target.nqn2}\n`);
  const r = nvmfEtc(['connect-all', '-t', 'tcp', '-a', target.traddr, '-s', target.trsvcid, '-o', 'json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    results: { target: { subnqn: string }; ok: boolean; device: string; reused: boolean; error?: string }[];
    excluded: { target: { subnqn: string }; reason: string }[];
  };
  assert.deepEqual(
    j.excluded.map((x) => [x.target.subnqn, x.reason]),
    [[target.nqn2, `excluded by ${conf}:3 (transport=tcp;nqn=${target.nqn2})`]],
  );
  assert.deepEqual(j.results.map((x) => x.target.subnqn).sort(), [target.nqn1, NBFT_BOOT.nqn].sort());
  for (const x of j.results) assert.equal(x.ok, true, x.error);
  assert.equal(
    controllers().some((d) => attr(d, 'subsysnqn') === target.nqn2),
    false,
    `${target.nqn2} not connected`,
  );
});

test('disconnect --yes takes the boot device down when asked to', () => {
  const r = nvmf(['disconnect', '-d', boot, '--yes']);
  assert.equal(r.status, 0, r.stderr);
  udevSettle();
  assert.deepEqual(bootControllers(), []);
});
