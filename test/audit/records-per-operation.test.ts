import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import { connect } from '../../src/engine/connect.js';
import { disconnectAll } from '../../src/engine/disconnect.js';
import { makeSim, NQN_A, NQN_B, NQN_C, type SimHost } from '../engine/sim-helpers.js';
import { decision, runHelper, sandbox } from '../udev/harness.js';

// One audit record per change, made by the layer that made it: the registry records what it
// changes on disk (entry-created, claim, disown, owner-changed, entry-removed, gc-removed), the
// engine what it did to the kernel and what it decided (connect, disconnect-all-*), the udev
// helper its decision. An operation that changes the kernel and the registry (a connect with
// an owner) therefore has exactly one record of each, never a copy of either.

const A = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A } as const;
const B = { ...A, nqn: NQN_B } as const;
const C = { ...A, traddr: '10.0.0.2', nqn: NQN_C } as const;

let h: SimHost;
beforeEach(async () => {
  h = await makeSim();
});
afterEach(() => h.close());

/** The actions recorded while `op` ran, counted. */
async function recordedBy(op: () => Promise<unknown> | unknown): Promise<Record<string, number>> {
  const from = h.events.length;
  await op();
  const counts: Record<string, number> = {};
  for (const e of h.events.slice(from) as AuditEvent[]) counts[e.action] = (counts[e.action] ?? 0) + 1;
  return counts;
}

type Row = [
  name: string,
  setup: () => Promise<unknown>,
  op: () => Promise<unknown>,
  want: Record<string, number>,
];

/** nvme0 connected, with an entry that has no owner. */
async function unownedEntry(): Promise<void> {
  await connect(h.ctx, A, { owner: 'setup' });
  h.registry.disown('nvme0');
}

/** nvme0 connected, its entry recording another controller's identity (a recycled instance). */
async function previousEntry(): Promise<void> {
  await connect(h.ctx, A, { owner: 'old' });
  fs.writeFileSync(path.join(h.registry.root, 'nvme0', 'ctrl_traddr'), '192.0.2.99\n');
}

const rows: Row[] = [
  [
    'connect with an owner',
    async () => {},
    () => connect(h.ctx, A, { owner: 'stas' }),
    { 'entry-created': 1, connect: 1 },
  ],
  ['connect without an owner', async () => {}, () => connect(h.ctx, A), { connect: 1 }],
  [
    'reuse claim (an unowned entry gets an owner)',
    unownedEntry,
    () => connect(h.ctx, A, { owner: 'stas' }),
    { claim: 1, connect: 1 },
  ],
  [
    'reuse claim of a controller that has no entry',
    () => connect(h.ctx, A),
    () => connect(h.ctx, A, { owner: 'stas' }),
    { 'entry-created': 1, connect: 1 },
  ],
  [
    'reuse disown (connect with an empty owner and --force)',
    () => connect(h.ctx, A, { owner: 'stas' }),
    () => connect(h.ctx, A, { owner: '', force: true }),
    { disown: 1, connect: 1 },
  ],
  [
    'reuse disown of an owned controller without --force (a conflict: no change)',
    () => connect(h.ctx, A, { owner: 'stas' }),
    () => connect(h.ctx, A, { owner: '' }).catch(() => undefined),
    { 'connect-failed': 1 },
  ],
  [
    'claim --force over another owner',
    () => connect(h.ctx, A, { owner: 'k8s' }),
    async () => h.registry.claim('nvme0', 'stas', { expect: null, force: true }),
    { 'owner-changed': 1 },
  ],
  [
    'claim adopting a controller connected without an entry',
    () => connect(h.ctx, A),
    async () => h.registry.claim('nvme0', 'stas', { expect: null, seqnum: h.kernel.ueventSeqnum() }),
    { 'entry-created': 1 },
  ],
  [
    "claim over a previous controller's entry (replaced whole)",
    previousEntry,
    async () => h.registry.claim('nvme0', 'stas', { expect: null }),
    { 'entry-created': 1 },
  ],
  [
    "gc of a previous controller's entry on a live instance",
    previousEntry,
    async () => h.registry.gc({ graceMs: 0 }),
    { 'gc-removed': 1 },
  ],
  [
    'reuse by its owner (nothing changes in the registry)',
    () => connect(h.ctx, A, { owner: 'stas' }),
    () => connect(h.ctx, A, { owner: 'stas' }),
    { connect: 1 },
  ],
  ['claim', unownedEntry, async () => h.registry.claim('nvme0', 'stas', { expect: null }), { claim: 1 }],
  [
    'owner change',
    () => connect(h.ctx, A, { owner: 'k8s' }),
    async () => h.registry.claim('nvme0', 'stas', { expect: 'k8s' }),
    { 'owner-changed': 1 },
  ],
  [
    'disown',
    () => connect(h.ctx, A, { owner: 'stas' }),
    async () => h.registry.disown('nvme0'),
    { disown: 1 },
  ],
  ['disown of an unowned entry', () => connect(h.ctx, A), async () => h.registry.disown('nvme0'), {}],
  [
    'delete',
    () => connect(h.ctx, A, { owner: 'stas' }),
    async () => h.registry.delete('nvme0'),
    { 'entry-removed': 1 },
  ],
  [
    'gc of two entries whose controllers are gone',
    async () => {
      await connect(h.ctx, A, { owner: 'stas' });
      await connect(h.ctx, B, { owner: 'k8s' });
      await h.kernel.deleteController('nvme0');
      await h.kernel.deleteController('nvme1');
    },
    async () => h.registry.gc({ graceMs: 0 }),
    { 'gc-removed': 2 },
  ],
  [
    'disconnect-all: one decision per controller',
    async () => {
      await connect(h.ctx, A, { owner: 'stas' });
      await connect(h.ctx, B);
      await connect(h.ctx, C);
    },
    () => disconnectAll(h.ctx, {}),
    { 'disconnect-all-skip': 1, 'disconnect-all-disconnect': 2 },
  ],
];

describe('audit records per operation', () => {
  it.each(rows)('%s', async (_name, setup, op, want) => {
    await setup();
    expect(await recordedBy(op)).toEqual(want);
  });
});

describe('udev removal', () => {
  it('the helper makes exactly one record, its decision', async () => {
    const sb = sandbox();
    try {
      sb.entry('nvme4', { owner: 'stas', seqnum: '10' });
      const run = await runHelper(sb, ['nvme4', '11']);
      expect(run.records).toHaveLength(1);
      expect(decision(run).NVMF_ACTION).toBe('udev-removed');
    } finally {
      sb.cleanup();
    }
  });
});
