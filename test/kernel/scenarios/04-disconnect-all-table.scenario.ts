/**
 * Scenario 4: `nvmf disconnect-all` (default, --owner, --force, --dry-run) against real
 * controllers with mixed owners, one unreadable entry and one local PCIe controller (QEMU's
 * emulated NVMe): the plan and what is actually deleted must be exactly DESIGN §5's table.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { attr, controllers, nvmf, REGISTRY_ROOT, resetHost, target } from '../lib/guest.js';
import { openLibrary } from '../lib/library.js';

type Row = 'none' | 'X' | 'Y' | 'unreadable' | 'pcie';
type Action = 'disconnect' | 'skip';

interface PlanJson {
  plan: Array<{ device: string; transport: string; owner: string | null; action: Action; reason: string }>;
  results?: Array<{ device: string; ok: boolean; error?: string }>;
}

// DESIGN §5: registry owner of a fabrics controller -> action per policy ("never" = skip).
const TABLE: Record<'default' | 'owner' | 'force', Record<Row, Action>> = {
  default: { none: 'disconnect', X: 'skip', Y: 'skip', unreadable: 'skip', pcie: 'skip' },
  owner: { none: 'skip', X: 'disconnect', Y: 'skip', unreadable: 'skip', pcie: 'skip' },
  force: { none: 'disconnect', X: 'disconnect', Y: 'disconnect', unreadable: 'disconnect', pcie: 'skip' },
};
const FLAGS = { default: [], owner: ['--owner', 'kt-x'], force: ['--force'] } as const;

let pcie = '';

before(async () => {
  resetHost();
  execFileSync('modprobe', ['nvme']);
  for (let i = 0; i < 300 && !pcie; i++) {
    pcie = controllers().find((d) => attr(d, 'transport') === 'pcie' && attr(d, 'state') === 'live') ?? '';
    if (!pcie) await sleep(100);
  }
  assert.ok(pcie, 'the emulated PCIe controller came up');
});

after(() => {
  resetHost();
  execFileSync('modprobe', ['-r', 'nvme']);
});

/** A fresh host: one controller per row of the table; returns row -> device. */
async function mixedHost(): Promise<Record<Row, string>> {
  resetHost();
  const lib = await openLibrary();
  const tcp = { transport: 'tcp', traddr: target.traddr, trsvcid: target.trsvcid };
  const none = await lib.engine.connect({ ...tcp, nqn: target.nqn1 });
  const x = await lib.engine.connect({ ...tcp, nqn: target.nqn2 }, { owner: 'kt-x' });
  const y = await lib.engine.connect(
    { ...tcp, nqn: target.nqn1, duplicate_connect: true },
    { owner: 'kt-y' },
  );
  const u = await lib.engine.connect(
    { ...tcp, nqn: target.nqn2, duplicate_connect: true },
    { owner: 'kt-u' },
  );
  // An entry nobody can read: a plain file where the entry directory should be.
  const bad = path.join(REGISTRY_ROOT, u.device);
  rmSync(bad, { recursive: true });
  writeFileSync(bad, 'not an entry\n');
  return { none: none.device, X: x.device, Y: y.device, unreadable: u.device, pcie };
}

function expectedPlan(host: Record<Row, string>, policy: keyof typeof TABLE): Record<string, Action> {
  return Object.fromEntries((Object.keys(host) as Row[]).map((row) => [host[row], TABLE[policy][row]]));
}

for (const policy of ['default', 'owner', 'force'] as const) {
  test(`--dry-run ${policy}: the plan is the table's column, nothing changes`, async () => {
    const host = await mixedHost();
    const before = controllers();
    const r = nvmf(['disconnect-all', ...FLAGS[policy], '--dry-run', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PlanJson;
    assert.deepEqual(
      Object.fromEntries(out.plan.map((p) => [p.device, p.action])),
      expectedPlan(host, policy),
    );
    assert.equal(out.results, undefined, 'no results with --dry-run');
    assert.deepEqual(controllers(), before, 'a dry run deletes nothing');
  });

  test(`${policy} --yes: exactly the planned controllers are deleted`, async () => {
    const host = await mixedHost();
    const r = nvmf(['disconnect-all', ...FLAGS[policy], '--yes', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PlanJson;
    const want = expectedPlan(host, policy);
    assert.deepEqual(Object.fromEntries(out.plan.map((p) => [p.device, p.action])), want);
    const gone = Object.keys(want).filter((d) => want[d] === 'disconnect');
    assert.deepEqual(
      (out.results ?? []).map((x) => [x.device, x.ok]).sort(),
      gone.map((d) => [d, true]).sort(),
    );
    const left = controllers();
    for (const d of Object.keys(want))
      assert.equal(left.includes(d), want[d] === 'skip', `${d} (${want[d]})`);
  });
}

test('--owner and --force together are a usage error (exit 2) and change nothing', async () => {
  await mixedHost();
  const before = controllers();
  const r = nvmf(['disconnect-all', '--owner', 'kt-x', '--force', '--yes']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /mutually exclusive/);
  assert.deepEqual(controllers(), before);
});
