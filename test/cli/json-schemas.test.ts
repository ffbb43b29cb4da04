import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNbft, sampleInput } from '../nbft/build.js';
import { MAIN, nvmf, REPO, tempHost } from './helpers.js';
import { NQN, type SimHost, tableHost } from './sim-host.js';

/**
 * The JSON outputs are contracts (docs/schemas/): every command's `-o json` output on a sim
 * host validates against its schema. Each schema forbids unknown fields, so a new field is a
 * deliberate change of the schema, not an accident of the code.
 */

const SCHEMAS = path.join(REPO, 'docs', 'schemas');
const ajv = new Ajv2020({ allErrors: true, strict: true });
for (const f of fs.readdirSync(SCHEMAS)) {
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMAS, f), 'utf8')) as object);
}

/** Validate `doc` against docs/schemas/NAME.schema.json; the failure lists every problem. */
function expectShape(name: string, doc: unknown): void {
  const validate = ajv.getSchema(`https://nvmf-registry.invalid/schemas/${name}.schema.json`);
  if (validate === undefined) throw new Error(`no schema docs/schemas/${name}.schema.json`);
  const ok = validate(doc);
  expect(ok ? [] : validate.errors, `${name}: ${JSON.stringify(doc)}`).toEqual([]);
}

/** Run `nvmf -o json ARGS`; the exit code must be `code`; its stdout is one JSON document. */
function json(env: Record<string, string>, args: string[], code = 0): unknown {
  const r = nvmf(env, ['-o', 'json', ...args]);
  expect(r.code, `nvmf ${args.join(' ')}: ${r.stderr}`).toBe(code);
  return JSON.parse(r.stdout) as unknown;
}

let host: SimHost;
let env: Record<string, string>;
const ADDR = ['-t', 'tcp', '-a', '127.0.0.1'];

beforeAll(async () => {
  host = await tableHost({ NVMF_AUDIT_SINK: 'file' });
  env = { ...host.env, NVMF_AUDIT_FILE: path.join(host.dir, '..', 'audit.jsonl') };
}, 60_000);
afterAll(() => fs.rmSync(path.dirname(host.dir), { recursive: true, force: true }));

describe('every -o json output matches its schema in docs/schemas', () => {
  it('schemas compile and every schema file is used by this test', () => {
    const names = fs.readdirSync(SCHEMAS).map((f) => f.replace(/\.schema\.json$/, ''));
    const text = fs.readFileSync(import.meta.filename, 'utf8');
    const unused = names.filter((n) => n !== 'common' && !text.includes(`'${n}'`));
    expect(unused).toEqual([]);
  });

  it('connect, discover, connect-all, list', () => {
    expectShape('discover', json(env, ['discover', ...ADDR, '-s', '8009']));
    const all = json(env, ['connect-all', ...ADDR, '-s', '8009']) as { results: { ok: boolean }[] };
    expectShape('connect-all', all);
    // every controller reused, nvme3 (owner unknown: a symlinked owner file) left as it is
    expect(all.results.map((r) => r.ok)).toEqual([true, true, true, true]);
    const list = json(env, ['list']);
    expectShape('list', list);
    expectShape('list', json(env, ['list', '-v']));
    expect((list as { controllers: unknown[] }).controllers.length).toBeGreaterThan(4);
    const sim = simHost('connect');
    const connect = ['connect', ...ADDR, '-s', '4420', '-n', NQN(1), '--owner', 'dave'];
    expectShape('connect', json(sim.env, connect));
    expectShape('connect', json(sim.env, [...connect.slice(0, -1), 'erin', '--force']));
  });

  it('registry list, retrieve, update, claim, delete, gc, export, log', () => {
    const list = json(env, ['registry', 'list', '--all']);
    expectShape('registry-list', list);
    expect((list as { entries: unknown[] }).entries.length).toBeGreaterThan(2);
    expectShape('registry-retrieve', json(env, ['registry', 'retrieve', 'nvme1', '-a', 'owner']));
    expectShape('registry-update', json(env, ['registry', 'update', 'nvme1', '-a', 'color', '-V', 'blue']));
    expectShape('registry-claim', json(env, ['registry', 'claim', 'nvme1', '--owner', 'stas']));
    expectShape('registry-delete', json(env, ['registry', 'delete', 'nvme1', '-a', 'color']));
    expectShape('registry-gc', json(env, ['registry', 'gc', '--dry-run']));
    const prom = path.join(host.dir, '..', 'nvmf.prom');
    expectShape('registry-export', json(env, ['registry', 'export', '--path', prom]));
    const log = json(env, ['registry', 'log']);
    expectShape('registry-log', log);
    expect((log as { records: unknown[] }).records.length).toBeGreaterThan(0);
  });

  it('disconnect-all (plan, then plan and results), disconnect', () => {
    expectShape('disconnect-all', json(env, ['disconnect-all', '--dry-run']));
    expectShape('disconnect-all', json(env, ['disconnect-all', '--force', '--dry-run']));
    expectShape('disconnect-all', json(env, ['disconnect-all', '--owner', 'bob', '--yes']));
    expectShape('disconnect', json(env, ['disconnect', '-d', 'nvme1']));
  });

  it('sim init, fail, target-down/up, expire, udev-settle', () => {
    const dir = path.join(path.dirname(host.dir), 'sim-bare');
    expectShape('sim-init', json(env, ['sim', 'init', dir]));
    expectShape('sim-init', json(env, ['sim', 'init', dir, '--targets', writeTargets(dir)]));
    const sim = { ...env, NVMF_KERNEL: `sim:${dir}` };
    expectShape('sim-fail', json(sim, ['sim', 'fail', dir, 'nvme0', '--delete', 'EIO', '--count', '1']));
    expectShape('sim-target', json(sim, ['sim', 'target-down', dir, NQN(1)]));
    expectShape('sim-target', json(sim, ['sim', 'target-up', dir, NQN(1)]));
    expectShape('sim-udev-settle', json(sim, ['sim', 'udev-settle', dir]));
    json(sim, ['connect', ...ADDR, '-s', '4420', '-n', NQN(1)]);
    expectShape('sim-expire', json(sim, ['sim', 'expire', dir, 'nvme0']));
  });

  it('nbft show, connect-all --nbft, sim nbft, exclusion list/add/remove', () => {
    const sim = simHost('nbft');
    const table = sampleInput();
    const boot = { ...table.subsystems[0]!, traddr: '127.0.0.1', trsvcid: '4420', subsysNqn: NQN(1) };
    table.subsystems = [{ ...boot, discoveryIndex: null }];
    const file = path.join(sim.dir, '..', 'nbft.bin');
    fs.writeFileSync(file, buildNbft(table));
    expectShape('sim-nbft', json(sim.env, ['sim', 'nbft', sim.dir, file]));
    expectShape('nbft-show', json(sim.env, ['nbft', 'show']));
    // the sample table's discovery descriptor names a service nobody serves here: exit 3
    expectShape('connect-all-nbft', json(sim.env, ['connect-all', '--nbft'], 3));
    const shown = json(sim.env, ['nbft', 'show']) as {
      tables: { subsystems: { controllers: string[] }[] }[];
    };
    expectShape('nbft-show', shown);
    expect(shown.tables[0]!.subsystems[0]!.controllers).toEqual(['nvme0']);
    expectShape('exclusion-add', json(sim.env, ['exclusion', 'add', `nqn=${NQN(2)}`]));
    expectShape('exclusion-list', json(sim.env, ['exclusion', 'list']));
    expectShape('exclusion-remove', json(sim.env, ['exclusion', 'remove', `nqn=${NQN(2)}`]));
  });

  it('sim mount, umount, hold, swapon; disconnect and disconnect-all of what is in use', () => {
    const sim = simHost('in-use');
    json(sim.env, ['connect', ...ADDR, '-s', '4420', '-n', NQN(1)]);
    expectShape('sim-hold', json(sim.env, ['sim', 'hold', sim.dir, 'nvme0n1', 'dm-0']));
    expectShape('sim-mount', json(sim.env, ['sim', 'mount', sim.dir, 'dm-0', '/srv']));
    expectShape('sim-mount', json(sim.env, ['sim', 'umount', sim.dir, '/srv']));
    expectShape('sim-swapon', json(sim.env, ['sim', 'swapon', sim.dir, 'dm-0']));
    const plan = json(sim.env, ['disconnect-all', '--force', '--dry-run']) as {
      plan: { inUse?: unknown[] }[];
    };
    expectShape('disconnect-all', plan);
    expect(plan.plan[0]!.inUse).toHaveLength(1);
    expectShape('disconnect', json(sim.env, ['disconnect', '-d', 'nvme0'], 1));
  });

  it('systemd install, status, uninstall (into a private unit dir, no systemctl)', () => {
    const units = { ...env, NVMF_SYSTEMD_UNIT_DIR: path.join(path.dirname(host.dir), 'units') };
    const textfile = path.join(path.dirname(host.dir), 'nvmf.prom');
    expectShape(
      'systemd-install',
      json(units, ['systemd', 'install', '--no-systemctl', '--textfile', textfile]),
    );
    expectShape('systemd-status', json(units, ['systemd', 'status', '--no-systemctl']));
    expectShape('systemd-uninstall', json(units, ['systemd', 'uninstall', '--no-systemctl']));
  });

  it('udev status, install, uninstall (into private roots)', () => {
    const h = tempHost({ NVMF_UDEV_RULES_DIR: '', NVMF_UDEV_HELPER_DIR: '' });
    const roots = {
      ...h.env,
      NVMF_UDEV_RULES_DIR: path.join(h.dir, 'rules.d'),
      NVMF_UDEV_HELPER_DIR: path.join(h.dir, 'libexec'),
      NVMF_UDEV_CONTROL: path.join(h.dir, 'no-udevd'),
    };
    expectShape('udev-status', json(roots, ['udev', 'status']));
    expectShape('udev-install', json(roots, ['udev', 'install']));
    expectShape('udev-uninstall', json(roots, ['udev', 'uninstall']));
  });

  it('errors, on stderr', () => {
    const r = nvmf(env, ['-o', 'json', 'registry', 'retrieve', 'nvme77', '-a', 'owner']);
    expect(r.code).toBe(1);
    expectShape('error', JSON.parse(r.stderr.trim().split('\n').at(-1)!));
  });

  it('registry watch and monitor: every line', async () => {
    const sim = simHost('watch');
    json(sim.env, ['connect', ...ADDR, '-s', '4420', '-n', NQN(1), '--owner', 'frank']);
    const watch = await firstLine(sim.env, ['registry', 'watch', '--initial']);
    expectShape('registry-watch', watch);
    const h = tempHost();
    fs.mkdirSync(path.join(h.dir, 'bin'));
    const fixture = path.join(REPO, 'test', 'watch', 'fixtures', 'udevadm-monitor.txt');
    const udevadm = path.join(h.dir, 'bin', 'udevadm');
    fs.writeFileSync(udevadm, `#!/bin/sh\ncat '${fixture}'\nexec sleep 600\n`);
    fs.chmodSync(udevadm, 0o755);
    const monitorEnv = { ...h.env, PATH: `${path.join(h.dir, 'bin')}:${h.env.PATH}` };
    expectShape('monitor', await firstLine(monitorEnv, ['monitor']));
  }, 60_000);
});

/** A second simulated host beside the table host, serving NQN(1), made by the CLI. */
function simHost(name: string): { dir: string; env: Record<string, string> } {
  const dir = path.join(path.dirname(host.dir), name);
  json(env, ['sim', 'init', dir, '--targets', writeTargets(dir)]);
  return { dir, env: { ...env, NVMF_KERNEL: `sim:${dir}` } };
}

function writeTargets(dir: string): string {
  const file = `${dir}.targets.json`;
  const subsystems = [{ nqn: NQN(1), transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' }];
  fs.writeFileSync(file, JSON.stringify({ subsystems }));
  return file;
}

/** Start `nvmf -o json ARGS`, take its first stdout line as JSON, then stop it. */
async function firstLine(env: Record<string, string>, args: string[]): Promise<unknown> {
  const c = spawn(process.execPath, [MAIN, '-o', 'json', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const lines = createInterface({ input: c.stdout });
    for await (const line of lines) return JSON.parse(line) as unknown;
    throw new Error(`nvmf ${args.join(' ')} ended with no line: ${err}`);
  } finally {
    c.kill('SIGKILL');
  }
}
