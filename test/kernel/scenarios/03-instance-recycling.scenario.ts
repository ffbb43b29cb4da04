/**
 * Scenario 3: a recycled instance. B stays connected; A is deleted and C connected, taking
 * A's number, while udevd holds A's remove event (its exec queue is stopped, which forces the
 * bad interleaving every time instead of hoping for it). When udevd then runs our rule for
 * A's removal, C's entry must survive and A's must be gone. Repeated 50 times.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { entryOnDisk, helperJournal, resetHost, target, udevSettle } from '../lib/guest.js';
import { openLibrary } from '../lib/library.js';

const ROUNDS = Number(process.env.NVMF_KT_RECYCLE_ROUNDS ?? 50);
const udevadm = (...args: string[]) => execFileSync('udevadm', args);

before(resetHost);
after(() => {
  udevadm('control', '--start-exec-queue');
  resetHost();
});

test(`instance recycling before udev settles, ${ROUNDS} rounds: the new entry survives`, async () => {
  const lib = await openLibrary();
  const since = lib.kernel.ueventSeqnum();
  const tcp = { transport: 'tcp', traddr: target.traddr, trsvcid: target.trsvcid };
  const b = await lib.engine.connect({ ...tcp, nqn: target.nqn1 }, { owner: 'kt-b' });
  let a = await lib.engine.connect({ ...tcp, nqn: target.nqn2 }, { owner: 'kt-a0' });
  assert.notEqual(a.device, b.device);
  let kept = 0;
  for (let i = 1; i <= ROUNDS; i++) {
    const stampA = lib.registry.read(a.device)?.seqnum;
    udevadm('control', '--stop-exec-queue');
    await lib.kernel.deleteController(a.device);
    const c = await lib.engine.connect({ ...tcp, nqn: target.nqn2 }, { owner: `kt-a${i}` });
    assert.equal(c.device, a.device, `round ${i}: C takes A's number`);
    const stampC = lib.registry.read(c.device)?.seqnum;
    assert.ok(
      stampA && stampC && stampC > stampA,
      `round ${i}: C's stamp ${stampC} is newer than A's ${stampA}`,
    );
    udevadm('control', '--start-exec-queue');
    udevSettle();
    const e = entryOnDisk(c.device);
    assert.deepEqual(e, { owner: `kt-a${i}`, seqnum: stampC }, `round ${i}: C's entry survives, A's is gone`);
    assert.equal(entryOnDisk(b.device)?.owner, 'kt-b', `round ${i}: B untouched`);
    a = c;
    kept++;
  }
  // The helper said why it kept each one.
  const decisions = helperJournal(a.device, since);
  const keptRecs = decisions.filter((r) => r['NVMF_ACTION'] === 'udev-kept');
  console.log(`kt-fact recycle.kept ${JSON.stringify({ rounds: kept, keptRecords: keptRecs.length })}`);
  assert.equal(keptRecs.length, ROUNDS, 'one udev-kept record per recycled round');
});
