/**
 * Scenario 10 (a benchmark, not a timed test): `nvmf connect-all` and `nvmf disconnect-all`
 * of 32 subsystems against the same kernel writes made by a plain shell loop, in the same run.
 *
 * 32 namespace-less subsystems are exported on a port of their own, so discovery lists exactly
 * them. Each round times (a) one `sh` writing each option string to /dev/nvme-fabrics in turn,
 * then `1` to each controller's delete_controller in turn; (b) `nvmf connect-all --owner
 * kt-bench` (through discovery, as an operator runs it) and `nvmf disconnect-all --owner
 * kt-bench --yes`; (c) one CLI start-up (`nvmf --version`), all through the package's bin. It prints `kt-bench` lines with
 * (ours - one start-up) / raw. The figures are not asserted; what is asserted is the work:
 * every subsystem connected once with its owner, nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { after, before, test } from 'node:test';
import {
  attr,
  controllers,
  entriesOnDisk,
  entryOnDisk,
  rawDelete,
  resetHost,
  PROJECT,
  requirePath,
  target,
  udevSettle,
} from '../lib/guest.js';

/** The package's bin (the bundled CLI), what an operator runs as `nvmf`. */
const BIN = `${PROJECT}/build/cli/nvmf.cjs`;
const N = 32;
const ROUNDS = 3;
const OWNER = 'kt-bench';
const PORT_ID = '10';
const TRSVCID = '4430';
const CFG = '/sys/kernel/config/nvmet';
const PORT = `${CFG}/ports/${PORT_ID}`;
const nqns = Array.from(
  { length: N },
  (_, i) => `nqn.2014-08.org.nvmf-registry:kt-bench-${String(i).padStart(2, '0')}`,
);
const nqnSet = new Set(nqns);
const optionStrings = nqns.map((n) => `transport=tcp,traddr=${target.traddr},trsvcid=${TRSVCID},nqn=${n}`);

function exportBench(): void {
  for (const n of nqns) {
    mkdirSync(`${CFG}/subsystems/${n}`, { recursive: true });
    writeFileSync(`${CFG}/subsystems/${n}/attr_allow_any_host`, '1');
  }
  mkdirSync(PORT, { recursive: true });
  writeFileSync(`${PORT}/addr_trtype`, 'tcp');
  writeFileSync(`${PORT}/addr_adrfam`, 'ipv4');
  writeFileSync(`${PORT}/addr_traddr`, target.traddr);
  writeFileSync(`${PORT}/addr_trsvcid`, TRSVCID);
  for (const n of nqns) {
    if (!existsSync(`${PORT}/subsystems/${n}`))
      symlinkSync(`${CFG}/subsystems/${n}`, `${PORT}/subsystems/${n}`);
  }
}

function unexportBench(): void {
  for (const n of nqns) {
    if (existsSync(`${PORT}/subsystems/${n}`)) unlinkSync(`${PORT}/subsystems/${n}`);
  }
  if (existsSync(PORT)) rmdirSync(PORT);
  for (const n of nqns) if (existsSync(`${CFG}/subsystems/${n}`)) rmdirSync(`${CFG}/subsystems/${n}`);
}

/** Our bench controllers (any state), in instance order. */
function benchControllers(): string[] {
  return controllers().filter((d) => nqnSet.has(attr(d, 'subsysnqn') ?? ''));
}

function deleteBench(): void {
  for (const d of benchControllers()) {
    try {
      rawDelete(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  udevSettle();
}

/** Wall-clock seconds of one process run to completion; throws on a non-zero exit. */
function timed(cmd: string, args: string[]): { s: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, NVMF_KERNEL: '' },
    timeout: 600_000,
    maxBuffer: 64 << 20,
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return { s, stdout: r.stdout };
}

// One sh for each loop: the writes and nothing else (dash's printf and echo are builtins).
const RAW_CONNECT = 'for o; do printf %s "$o" > /dev/nvme-fabrics || exit 1; done';
const RAW_DELETE = 'for d; do echo 1 > /sys/class/nvme/$d/delete_controller || exit 1; done';

interface ConnectAllJson {
  results: Array<{
    target: { subnqn: string };
    ok: boolean;
    device?: string;
    owner?: string | null;
    error?: string;
  }>;
}
interface DisconnectAllJson {
  plan: Array<{ device: string; action: string }>;
  results: Array<{ device: string; ok: boolean; error?: string }>;
}

function load(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

before(() => {
  resetHost();
  exportBench();
});
after(() => {
  deleteBench();
  unexportBench();
  resetHost();
});

test(`connect-all and disconnect-all of ${N} subsystems vs the raw kernel writes (${ROUNDS} rounds)`, () => {
  requirePath(BIN, 'the bundled nvmf CLI (npm run build)');
  const f = (x: number) => x.toFixed(2);
  const cli = [
    'connect-all',
    '-t',
    'tcp',
    '-a',
    target.traddr,
    '-s',
    TRSVCID,
    '--owner',
    OWNER,
    '-o',
    'json',
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    // (a) the raw loop
    const rawC = timed('sh', ['-c', RAW_CONNECT, 'sh', ...optionStrings]);
    const made = benchControllers();
    assert.equal(made.length, N, 'the raw loop made one controller per subsystem');
    udevSettle();
    const rawD = timed('sh', ['-c', RAW_DELETE, 'sh', ...made]);
    assert.deepEqual(benchControllers(), [], 'the raw loop deleted them all');
    udevSettle();

    // (b) ours, through discovery, with an owner
    const ours = timed(process.execPath, [BIN, ...cli]);
    const r = JSON.parse(ours.stdout) as ConnectAllJson;
    assert.equal(r.results.length, N);
    for (const x of r.results) assert.equal(x.ok, true, x.error);
    assert.deepEqual(r.results.map((x) => x.target.subnqn).sort(), [...nqns].sort());
    const devices = benchControllers();
    assert.deepEqual(
      devices,
      r.results.map((x) => x.device as string).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))),
    );
    for (const d of devices) {
      assert.equal(attr(d, 'state'), 'live', d);
      assert.equal(entryOnDisk(d)?.owner, OWNER, d);
    }
    assert.deepEqual(
      controllers().filter((d) => attr(d, 'subsysnqn') === target.discoveryNqn),
      [],
      'no discovery controller left',
    );
    udevSettle();
    const oursD = timed(process.execPath, [BIN, 'disconnect-all', '--owner', OWNER, '--yes', '-o', 'json']);
    const d = JSON.parse(oursD.stdout) as DisconnectAllJson;
    assert.equal(d.results.length, N);
    for (const x of d.results) assert.equal(x.ok, true, x.error);
    assert.deepEqual(d.results.map((x) => x.device).sort(), [...devices].sort());
    assert.deepEqual(benchControllers(), [], 'disconnect-all deleted them all');
    udevSettle();
    assert.deepEqual(entriesOnDisk(), [], 'no registry entry left');

    // (c) one CLI start-up
    const startup = timed(process.execPath, [BIN, '--version']).s;

    const cRatio = (ours.s - startup) / rawC.s;
    const dRatio = (oursD.s - startup) / rawD.s;
    console.log(
      `kt-bench round ${round}: raw connect ${f(rawC.s)} s, connect-all ${f(ours.s)} s; raw delete ${f(rawD.s)} s, ` +
        `disconnect-all ${f(oursD.s)} s; start-up ${f(startup)} s; guest load ${load()}`,
    );
    console.log(
      `kt-bench round ${round}: connect-all ${f(cRatio)}x raw (target <= 1.2x), disconnect-all ${f(dRatio)}x raw (target <= 1.0x)`,
    );
  }
});
