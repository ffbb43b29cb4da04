/**
 * Scenario 5: `nvmf discover` and `nvmf connect-all` against nvmet's real discovery subsystem
 * (two subsystems exported), read through the admin passthrough ioctl (Get Log Page 0x70).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { attr, controllers, entriesOnDisk, entryOnDisk, nvmfJson, resetHost, target } from '../lib/guest.js';

const args = ['-t', 'tcp', '-a', target.traddr, '-s', target.trsvcid];

interface DiscoverJson {
  entries: Array<{ kind: string; transport: string | null; traddr: string; trsvcid: string; subnqn: string }>;
  skipped: unknown[];
  failures: unknown[];
}
interface ConnectAllJson {
  results: Array<{
    target: { subnqn: string };
    ok: boolean;
    device?: string;
    owner?: string | null;
    reused?: boolean;
    error?: string;
  }>;
}

before(resetHost);
after(resetHost);

test('discover lists both exported subsystems and leaves no controller behind', () => {
  const d = nvmfJson<DiscoverJson>(['discover', ...args]);
  const nvm = d.entries.filter((e) => e.kind === 'nvm');
  console.log(`kt-fact discovery.kinds ${JSON.stringify(d.entries.map((e) => e.kind))}`);
  assert.deepEqual(nvm.map((e) => e.subnqn).sort(), [target.nqn1, target.nqn2].sort());
  for (const e of nvm) {
    assert.equal(e.transport, 'tcp');
    assert.equal(e.traddr, target.traddr);
    assert.equal(e.trsvcid, target.trsvcid);
  }
  assert.deepEqual(d.failures, []);
  assert.deepEqual(controllers(), [], 'the discovery controller is gone again');
  assert.deepEqual(entriesOnDisk(), [], 'no registry entry for a transient discovery controller');
});

test('connect-all --owner connects every subsystem with that owner; again = reuse', () => {
  const r = nvmfJson<ConnectAllJson>(['connect-all', ...args, '--owner', 'kt-all']);
  assert.deepEqual(r.results.map((x) => x.target.subnqn).sort(), [target.nqn1, target.nqn2].sort());
  for (const x of r.results) {
    assert.equal(x.ok, true, x.error);
    assert.ok(x.device);
    assert.equal(attr(x.device, 'subsysnqn'), x.target.subnqn);
    assert.equal(attr(x.device, 'state'), 'live');
    assert.equal(entryOnDisk(x.device)?.owner, 'kt-all');
    assert.equal(x.reused, false);
  }
  const fabrics = controllers().filter((c) => attr(c, 'subsysnqn') !== target.discoveryNqn);
  assert.deepEqual(fabrics.sort(), r.results.map((x) => x.device as string).sort());

  const again = nvmfJson<ConnectAllJson>(['connect-all', ...args, '--owner', 'kt-all']);
  for (const x of again.results) {
    assert.equal(x.ok, true, x.error);
    assert.equal(x.reused, true, `${x.target.subnqn} reused`);
  }
  assert.equal(controllers().length, r.results.length, 'no new controllers the second time');
});
