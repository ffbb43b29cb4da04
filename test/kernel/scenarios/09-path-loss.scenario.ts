/**
 * Scenario 9: path loss on the real kernel. The target's port loses the subsystem (nvmet's
 * configfs link removed) and gets it back: an owned controller reconnects on the same
 * instance with its registry entry and stamp untouched, and a plain disconnect-all during the
 * outage skips it (and returns). With a short ctrl_loss_tmo the kernel removes the controller
 * itself and our udev rule cleans its entry.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  attr,
  type ConnectJson,
  entryOnDisk,
  helperJournal,
  nvmf,
  nvmfJson,
  resetHost,
  seqnum,
  target,
  targetLinkDown,
  targetLinkUp,
  tcpArgs,
  udevSettle,
} from '../lib/guest.js';
import { openLibrary } from '../lib/library.js';

before(resetHost);
after(resetHost);

/** Poll until `cond` holds (generous bound: the guest is emulated and the host loaded). */
async function waitFor(what: string, cond: () => boolean, boundMs = 120_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${boundMs} ms`);
    await sleep(20);
  }
}

interface PlanJson {
  plan: Array<{ device: string; owner: string | null; action: 'disconnect' | 'skip' }>;
  results?: Array<{ device: string; ok: boolean }>;
}

test('recovery: same instance, entry and stamp unchanged; disconnect-all during the outage skips it', async () => {
  const owned = nvmfJson<ConnectJson>([
    'connect',
    ...tcpArgs(target.nqn1),
    '--owner',
    'kt-pathloss',
    '--reconnect-delay',
    '1',
    '--ctrl-loss-tmo',
    '600',
  ]);
  const dev = owned.device;
  const entry = entryOnDisk(dev);
  assert.ok(entry?.seqnum, `entry of ${dev} with a stamp`);
  assert.equal(entry.owner, 'kt-pathloss');
  const unowned = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn2)]);
  udevSettle();
  const s0 = seqnum();

  targetLinkDown(target.nqn1);
  try {
    await waitFor(`${dev} leaves live and reconnects`, () => attr(dev, 'state') === 'connecting');
    assert.ok(existsSync(`/dev/${dev}`), 'the node stays during the outage');
    const r = nvmf(['disconnect-all', '--yes', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PlanJson;
    assert.deepEqual(
      Object.fromEntries(out.plan.map((p) => [p.device, p.action])),
      { [dev]: 'skip', [unowned.device]: 'disconnect' },
      r.stdout,
    );
    assert.deepEqual(
      (out.results ?? []).map((x) => [x.device, x.ok]),
      [[unowned.device, true]],
    );
    assert.notEqual(attr(dev, 'state'), null, `${dev} is still there`);
    assert.notEqual(attr(dev, 'state'), 'live', `${dev} is still down`);
  } finally {
    targetLinkUp(target.nqn1);
  }

  await waitFor(`${dev} live again`, () => attr(dev, 'state') === 'live');
  assert.equal(attr(dev, 'subsysnqn'), target.nqn1, 'the same instance, the same subsystem');
  assert.ok(existsSync(`/dev/${dev}`));
  udevSettle();
  assert.deepEqual(entryOnDisk(dev), entry, 'entry and stamp unchanged');
  assert.deepEqual(helperJournal(dev, s0), [], 'the rule never ran for it');
  const list = nvmfJson<{ controllers: Array<{ device: string; owner: string | null; state: string }> }>([
    'list',
  ]);
  const row = list.controllers.find((c) => c.device === dev);
  assert.equal(row?.owner, 'kt-pathloss');
  assert.equal(row?.state, 'live');
});

test('removal: past ctrl_loss_tmo the kernel removes the controller and the udev rule cleans the entry', async () => {
  resetHost();
  const lib = await openLibrary();
  const r = await lib.engine.connect(
    {
      transport: 'tcp',
      traddr: target.traddr,
      trsvcid: target.trsvcid,
      nqn: target.nqn1,
      reconnect_delay: 1,
      ctrl_loss_tmo: 3,
    },
    { owner: 'kt-pathloss-tmo' },
  );
  const dev = r.device;
  const stamp = entryOnDisk(dev)?.seqnum;
  assert.ok(stamp, `entry of ${dev} with a stamp`);
  udevSettle();
  const s0 = seqnum();
  const t0 = Date.now();
  targetLinkDown(target.nqn1);
  try {
    await waitFor(`the kernel removes ${dev}`, () => !existsSync(`/sys/class/nvme/${dev}`));
  } finally {
    targetLinkUp(target.nqn1);
  }
  const elapsed = Date.now() - t0;
  console.log(`kt-fact path-loss-removal ${JSON.stringify({ elapsedMs: elapsed })}`);
  assert.ok(elapsed >= 3000, `removed after ${elapsed} ms, before ctrl_loss_tmo`);
  udevSettle();
  assert.equal(entryOnDisk(dev), null, 'the rule removed the entry');
  const recs = helperJournal(dev, s0);
  assert.equal(recs.length, 1, JSON.stringify(recs));
  assert.equal(recs[0]?.['NVMF_ACTION'], 'udev-removed');
  assert.equal(recs[0]?.['NVMF_OWNER'], 'kt-pathloss-tmo');
  assert.equal(Number(recs[0]?.['NVMF_STAMP']), stamp);
});
