/**
 * Scenario 8: every kernel fact the simulated kernel models, checked on the real kernel by the
 * same code (test/kernel-sim/facts.ts) through our linux adapter; each fact also runs on a
 * fresh sim in the guest, and what the two measured must be equal, so the sim cannot drift.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type * as DiscoveryLogModule from '../../../src/nvme/discovery-log.js';
import type * as SimModule from '../../../src/kernel/sim.js';
import type * as FactsModule from '../../kernel-sim/facts.js';
import type * as HelpersModule from '../../kernel-sim/helpers.js';
import {
  readInFlight,
  requireModule,
  resetHost,
  slowTargetDown,
  slowTargetUp,
  target,
  targetLinkDown,
  targetLinkUp,
  udevSettle,
} from '../lib/guest.js';

const facts = await requireModule<typeof FactsModule>(
  'test/kernel-sim/facts.ts',
  'kernel-agnostic fact functions',
);
const helpers = await requireModule<typeof HelpersModule>(
  'test/kernel-sim/helpers.ts',
  'sim fact environment',
);
const { kernelFromEnv } = await requireModule<typeof SimModule>('src/kernel/sim.ts', 'kernelFromEnv');
const { decodeDiscoveryLog } = await requireModule<typeof DiscoveryLogModule>(
  'src/nvme/discovery-log.ts',
  'discovery log codec',
);

const PROBE_RULE = '/etc/udev/rules.d/99-kt-remove-log.rules';
const PROBE_LOG = '/run/kt-remove.log';
const CHANGE_LOG = '/run/kt-change.log';

const realTarget: FactsModule.FactTarget = {
  transport: 'tcp',
  traddr: target.traddr,
  trsvcid: target.trsvcid,
  nqn: target.nqn1,
  nqn0: target.nqn2,
  closedTrsvcid: '4421',
  discoveryTrsvcid: target.trsvcid, // nvmet serves discovery on every port
};

const { kernel: linux } = await kernelFromEnv({ ...process.env, NVMF_KERNEL: '' });
assert.equal(linux.kind, 'linux');

const realEnv: FactsModule.FactEnv = {
  kernel: linux,
  target: realTarget,
  settle: async () => udevSettle(),
  removeEventsSince: async (since) =>
    readFileSync(PROBE_LOG, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [kernel = '', seq = '', node = ''] = l.split(' ');
        return { kernel, seqnum: Number(seq), nodeExisted: node === 'present' };
      })
      .filter((e) => e.seqnum > since),
  changeEventsSince: async (since) =>
    readFileSync(CHANGE_LOG, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [subsystem = '', kernel = '', seq = ''] = l.split(' ');
        return { subsystem, kernel, seqnum: Number(seq) };
      })
      .filter((e) => e.seqnum > since),
  link: {
    down: async (nqn) => targetLinkDown(nqn),
    up: async (nqn) => targetLinkUp(nqn),
  },
  slowDelete: {
    open: async () => slowTargetUp(),
    hold: (device) => readInFlight(device),
    close: async () => slowTargetDown(),
  },
  decodeDiscoveryLog,
};

before(() => {
  resetHost();
  writeFileSync(PROBE_LOG, '');
  writeFileSync(CHANGE_LOG, '');
  writeFileSync(
    PROBE_RULE,
    `ACTION=="remove", SUBSYSTEM=="nvme", KERNEL=="nvme[0-9]*", RUN+="/bin/sh -c 'if [ -e /dev/%k ]; then n=present; else n=absent; fi; echo %k $env{SEQNUM} $$n >>${PROBE_LOG}'"\n` +
      `ACTION=="change", SUBSYSTEM=="nvme|block", KERNEL=="nvme*", RUN+="/bin/sh -c 'echo $env{SUBSYSTEM} %k $env{SEQNUM} >>${CHANGE_LOG}'"\n`,
  );
  execFileSync('udevadm', ['control', '--reload']);
});

after(() => {
  rmSync(PROBE_RULE, { force: true });
  execFileSync('udevadm', ['control', '--reload']);
  resetHost();
});

async function onSim<T>(fn: (env: FactsModule.FactEnv) => Promise<T>): Promise<T> {
  const s = await helpers.newSim();
  try {
    return await fn(helpers.simFactEnv(s.dir, s.kernel));
  } finally {
    s.kernel.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
}

type Fact = (env: FactsModule.FactEnv) => Promise<unknown>;

interface SeqnumDeltas {
  atReply: number;
  afterScan: number;
  delete: number;
}

/**
 * How each fact's measurements must agree. Default: equal. The seqnum read at the connect reply
 * races the asynchronous namespace scan on the real kernel (4 or 7 measured from run to run), so
 * it must lie between the sim's reply and after-scan values; the rest is exact.
 */
const COMPARE: Partial<Record<string, (real: unknown, sim: unknown) => void>> = {};
for (const name of ['factSeqnum', 'factSeqnumNoNamespace', 'factSeqnumDiscovery']) {
  COMPARE[name] = (real, sim) => {
    const r = real as SeqnumDeltas;
    const m = sim as SeqnumDeltas;
    assert.deepEqual(
      [r.afterScan, r.delete],
      [m.afterScan, m.delete],
      'uevents after the scan and per delete',
    );
    assert.ok(
      r.atReply >= m.atReply && r.atReply <= m.afterScan,
      `uevents at the reply: kernel ${r.atReply}, sim ${m.atReply} (up to ${m.afterScan} when the scan wins)`,
    );
  };
}

// A delete right after the reply races the namespace scan on the real kernel (both outcomes
// are checked inside the fact); the sim models the outcome where the scan ran, so the totals
// must agree whenever the kernel's scan ran too.
COMPARE['factSeqnumDeleteRightAfterConnect'] = (real, sim) => {
  const r = real as { scanRan: boolean; connectAndDelete: number };
  const m = sim as { scanRan: boolean; connectAndDelete: number };
  assert.equal(m.scanRan, true, 'the sim flushes the scan before a delete');
  if (r.scanRan) assert.equal(r.connectAndDelete, m.connectAndDelete, 'uevents of connect + delete');
};

const factEntries = Object.entries(facts.ALL_FACTS) as Array<[string, Fact]>;
assert.ok(factEntries.length > 0, 'ALL_FACTS is empty');

for (const [name, fn] of factEntries) {
  test(`${name}: the same code on the real kernel and on the sim`, async () => {
    resetHost();
    const real = await fn(realEnv);
    const sim = await onSim(fn);
    console.log(`kt-fact ${name} ${JSON.stringify({ real, sim })}`);
    const compare =
      COMPARE[name] ?? ((r: unknown, m: unknown) => assert.deepEqual(m, r, `sim and kernel differ: ${name}`));
    compare(real, sim);
  });
}
