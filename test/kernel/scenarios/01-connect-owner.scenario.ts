/** Scenario 1: `nvmf connect --owner X` records X with the real uevent seqnum; `list -v` shows X. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  attr,
  type ConnectJson,
  entryOnDisk,
  nvmf,
  nvmfJson,
  resetHost,
  seqnum,
  target,
  tcpArgs,
} from '../lib/guest.js';
import { openLibrary } from '../lib/library.js';

before(resetHost);
after(resetHost);

test('CLI: connect --owner writes owner and the seqnum of the kernel creating the controller', () => {
  const s0 = seqnum();
  const r = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn1), '--owner', 'kt-alpha']);
  const s1 = seqnum();
  assert.match(r.device, /^nvme\d+$/);
  assert.equal(r.owner, 'kt-alpha');
  assert.equal(r.reused, false);
  assert.equal(attr(r.device, 'subsysnqn'), target.nqn1);
  assert.equal(attr(r.device, 'cntlid'), String(r.cntlid));
  const e = entryOnDisk(r.device);
  assert.ok(e, `registry entry for ${r.device}`);
  assert.equal(e.owner, 'kt-alpha');
  assert.ok(e.seqnum !== null && e.seqnum > s0 && e.seqnum <= s1, `stamp ${e.seqnum} in (${s0}, ${s1}]`);

  const reg = nvmfJson<{
    entries: Array<{ device: string; owner: string | null; seqnum: number | null; live: boolean }>;
  }>(['registry', 'list']);
  assert.deepEqual(
    reg.entries.find((x) => x.device === r.device),
    {
      device: r.device,
      owner: 'kt-alpha',
      seqnum: e.seqnum,
      attrs: {},
      live: true,
      verdict: { kind: 'owned', owner: 'kt-alpha' },
    },
  );

  const text = nvmf(['list', '-v']);
  assert.equal(text.status, 0, text.stderr);
  const row = text.stdout.split('\n').find((l) => l.trim().split(/\s+/)[0] === r.device);
  assert.ok(row, `list -v has a row for ${r.device}:\n${text.stdout}`);
  assert.equal(row.trim().split(/\s+/).at(-1), 'kt-alpha', `Orchestrator column: ${row}`);
  const json = nvmfJson<{ controllers: Array<{ device: string; owner: string | null }> }>(['list']);
  assert.equal(json.controllers.find((c) => c.device === r.device)?.owner, 'kt-alpha');
});

test("audit: the CLI's records reach the real journal, and `nvmf registry log` reads them back", () => {
  const reg = nvmfJson<{ entries: Array<{ device: string; owner: string | null; seqnum: number | null }> }>([
    'registry',
    'list',
  ]);
  const e = reg.entries.find((x) => x.owner === 'kt-alpha');
  assert.ok(e && e.seqnum !== null, "the first test left kt-alpha's controller");
  const claimed = nvmf(['registry', 'claim', e.device, '--owner', 'kt-delta', '--expect', 'kt-alpha']);
  assert.equal(claimed.status, 0, claimed.stderr);
  // journald stores what it was sent asynchronously; --sync returns once it has.
  execFileSync('journalctl', ['--sync']);

  type Row = {
    action: string | null;
    device: string | null;
    owner: string | null;
    prevOwner: string | null;
    seqnum: number | null;
  };
  const log = nvmfJson<{ records: Row[] }>(['registry', 'log', e.device]).records;
  assert.ok(log.length >= 3, `records for ${e.device}: ${JSON.stringify(log)}`);
  assert.ok(
    log.every((r) => r.device === e.device),
    'only records of that device',
  );
  // The stamp is unique within a boot, so these are this connect's records, not a recycled name's.
  const pick = (r: Row) => ({ action: r.action, owner: r.owner, seqnum: r.seqnum });
  const ofThisConnect = log.filter((r) => r.seqnum === e.seqnum).map(pick);
  assert.deepEqual(
    ofThisConnect.map((r) => r.action).sort(),
    ['connect', 'entry-created'],
    JSON.stringify(ofThisConnect),
  );
  assert.ok(ofThisConnect.every((r) => r.owner === 'kt-alpha'));
  assert.deepEqual(
    nvmfJson<{ records: Row[] }>(['registry', 'log', e.device, '-n', '1']).records.map((r) => ({
      action: r.action,
      owner: r.owner,
      prevOwner: r.prevOwner,
    })),
    [{ action: 'owner-changed', owner: 'kt-delta', prevOwner: 'kt-alpha' }],
  );
  const text = nvmf(['registry', 'log', e.device, '-n', '1']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /owner-changed/);
  assert.match(text.stdout, /kt-delta/);
});

test('library: Engine.connect with an owner over the linux adapter stamps the real seqnum', async () => {
  const lib = await openLibrary();
  const s0 = lib.kernel.ueventSeqnum();
  const r = await lib.engine.connect(
    { transport: 'tcp', traddr: target.traddr, trsvcid: target.trsvcid, nqn: target.nqn2 },
    { owner: 'kt-beta' },
  );
  const s1 = lib.kernel.ueventSeqnum();
  assert.equal(r.owner, 'kt-beta');
  const e = lib.registry.read(r.device);
  assert.ok(e);
  assert.equal(e.owner, 'kt-beta');
  assert.ok(e.seqnum !== null && e.seqnum > s0 && e.seqnum <= s1, `stamp ${e.seqnum} in (${s0}, ${s1}]`);
  assert.equal(e.live, true);
});
