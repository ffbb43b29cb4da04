/**
 * Scenario 12: the ownership verdict on the real kernel (issue 13 items 2 and 3).
 *
 * - A container's view: `nvmf registry gc` with NVMF_DEV_ROOT at an empty directory (no nvme
 *   nodes) removes no entry of a live controller, and disconnect-all plans the same.
 * - A bypassing connect: an owned controller (connected by `nvmf connect --owner`, which records
 *   its identity) is deleted and a raw /dev/nvme-fabrics connect to another subsystem takes its
 *   number while udevd's exec queue is stopped; the remove rule then keeps the old entry (the
 *   node exists again). That entry belongs to a previous controller: `registry list -o json`
 *   says `verdict.kind == "previous"`, disconnect-all treats the controller as unowned, and
 *   `registry gc` removes the entry.
 *
 * The second test checks the kernel and udev side first (its `fact:` assertions); every
 * assertion that needs the verdict work says `verdict:`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  attr,
  type ConnectJson,
  controllers,
  entryOnDisk,
  nvmf,
  nvmfJson,
  rawConnect,
  rawDelete,
  resetHost,
  target,
  tcpArgs,
  tcpOptions,
  udevSettle,
} from '../lib/guest.js';

const udevadm = (...args: string[]) => execFileSync('udevadm', args);

before(resetHost);
after(() => {
  udevadm('control', '--start-exec-queue');
  resetHost();
});

interface Verdict {
  kind: 'owned' | 'unowned' | 'unknown' | 'previous';
  owner?: string;
  reason?: string;
}
interface RegistryListJson {
  entries: Array<{ device: string; owner: string | null; verdict?: Verdict }>;
}
interface PlanJson {
  plan: Array<{ device: string; action: 'disconnect' | 'skip'; reason: string }>;
}
interface GcJson {
  removed: Array<{ device?: string; path?: string; kind: string; reason: string }>;
  kept: Array<{ device?: string; path?: string; kind: string; reason: string }>;
}

function planOf(env: Record<string, string> = {}): Record<string, string> {
  const out = nvmfJson<PlanJson>(['disconnect-all', '--dry-run'], env);
  return Object.fromEntries(out.plan.map((p) => [p.device, p.action]));
}

test('verdict: gc with NVMF_DEV_ROOT at an empty directory removes nothing live', () => {
  resetHost();
  const owned = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn1), '--owner', 'kt-gc']);
  const unowned = rawConnect(tcpOptions(target.nqn2));
  udevSettle();
  const emptyDev = mkdtempSync('/tmp/kt-empty-dev.');
  try {
    const env = { NVMF_DEV_ROOT: emptyDev };
    const want = { [owned.device]: 'skip', [`nvme${unowned.instance}`]: 'disconnect' };
    assert.deepEqual(planOf(), want, 'the plan with the real /dev');
    const gc = nvmfJson<GcJson>(['registry', 'gc'], env);
    assert.deepEqual(
      gc.removed.filter((r) => r.device === owned.device),
      [],
      `verdict: gc without device nodes must not remove the live ${owned.device}: ${JSON.stringify(gc)}`,
    );
    assert.equal(entryOnDisk(owned.device)?.owner, 'kt-gc', 'the entry is still on disk');
    assert.deepEqual(planOf(env), want, 'verdict: the plan without device nodes is unchanged');
    assert.deepEqual(planOf(), want, 'verdict: the plan after that gc is unchanged');
  } finally {
    rmSync(emptyDev, { recursive: true, force: true });
  }
});

test('fact + verdict: a raw connect on a recycled instance while udevd waits leaves a previous controller entry; gc removes it', () => {
  resetHost();
  // fact part: the kernel hands out the number again and udev keeps the old entry
  const a = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn2), '--owner', 'kt-prev']);
  udevSettle();
  assert.equal(entryOnDisk(a.device)?.owner, 'kt-prev');
  udevadm('control', '--stop-exec-queue');
  let c: number;
  try {
    rawDelete(a.device);
    c = rawConnect(tcpOptions(target.nqn1)).instance;
  } finally {
    udevadm('control', '--start-exec-queue');
  }
  udevSettle();
  assert.equal(`nvme${c}`, a.device, 'the raw connect took the deleted controller number');
  assert.equal(attr(a.device, 'subsysnqn'), target.nqn1, 'a different controller now');
  assert.equal(
    entryOnDisk(a.device)?.owner,
    'kt-prev',
    'fact: the remove rule kept the old entry (the node exists again)',
  );

  // verdict part: reported as a previous controller's entry everywhere, treated as unowned
  const list = nvmfJson<RegistryListJson>(['registry', 'list']);
  const e = list.entries.find((x) => x.device === a.device);
  assert.ok(e, `registry list shows ${a.device}: ${JSON.stringify(list)}`);
  assert.equal(e.verdict?.kind, 'previous', `verdict: registry list -o json: ${JSON.stringify(e)}`);
  assert.equal(
    typeof e.verdict?.reason,
    'string',
    `verdict: a previous entry has a reason: ${JSON.stringify(e)}`,
  );
  const rows = nvmfJson<{ controllers: Array<{ device: string; verdict?: Verdict }> }>(['list', '-v']);
  const row = rows.controllers.find((x) => x.device === a.device);
  assert.equal(row?.verdict?.kind, 'previous', `verdict: list -v -o json agrees: ${JSON.stringify(row)}`);
  const text = nvmf(['registry', 'list']);
  assert.match(text.stdout, /\(previous\)/, `verdict: registry list shows (previous): ${text.stdout}`);
  assert.equal(planOf()[a.device], 'disconnect', 'verdict: a previous entry is unowned for disconnect-all');

  const gc = nvmfJson<GcJson>(['registry', 'gc']);
  assert.ok(
    gc.removed.some((r) => r.device === a.device),
    `verdict: gc removes the previous controller's entry: ${JSON.stringify(gc)}`,
  );
  assert.equal(entryOnDisk(a.device), null, 'the entry is gone');
  assert.ok(controllers().includes(a.device), 'the live controller stays');
});
