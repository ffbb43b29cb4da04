/**
 * Scenario 2: `nvmf disconnect` deletes the controller; the real udevd runs our rule, the
 * helper removes the entry and leaves its record in the journal under NVMF_DEVICE.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  type ConnectJson,
  entryOnDisk,
  helperJournal,
  nvmf,
  nvmfJson,
  resetHost,
  seqnum,
  target,
  tcpArgs,
  udevSettle,
} from '../lib/guest.js';

before(() => {
  resetHost();
  assert.ok(existsSync('/etc/udev/rules.d/70-nvmf-registry.rules'), 'our rule is installed');
});
after(resetHost);

test('disconnect: udevd runs our rule, the entry is gone, the journal has the helper record', () => {
  const r = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn1), '--owner', 'kt-gamma']);
  const stamp = entryOnDisk(r.device)?.seqnum;
  assert.ok(stamp);
  const before = seqnum();
  const d = nvmf(['disconnect', '-d', r.device]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(existsSync(`/dev/${r.device}`), false);
  udevSettle();
  assert.equal(entryOnDisk(r.device), null, 'entry removed');
  const recs = helperJournal(r.device, before);
  assert.equal(recs.length, 1, `one helper record: ${JSON.stringify(recs)}`);
  const rec = recs[0]!;
  assert.equal(rec['NVMF_ACTION'], 'udev-removed');
  assert.equal(rec['NVMF_OWNER'], 'kt-gamma');
  assert.equal(Number(rec['NVMF_STAMP']), stamp);
  const removeSeq = Number(rec['NVMF_SEQNUM']);
  assert.ok(removeSeq > before && removeSeq <= seqnum(), `remove event ${removeSeq} after the disconnect`);
});
