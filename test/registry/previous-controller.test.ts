import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/engine/connect.js';
import { planFromHost } from '../../src/engine/disconnect.js';
import { buildOptionString, parseConnectOptions } from '../../src/engine/options.js';
import { makeSim, NQN_A, NQN_C, type SimHost } from '../engine/sim-helpers.js';

/**
 * A controller connected without the library (a raw /dev/nvme-fabrics write) on a recycled
 * instance whose old entry udev has not cleaned yet (its queue is not run): the entry
 * records the old controller's identity, so it is a previous controller's entry everywhere,
 * counted as unowned, and gc removes it with an audit record.
 */
let h: SimHost;
beforeEach(async () => {
  h = await makeSim();
});
afterEach(() => h.close());

const A = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A } as const;
const C = { transport: 'tcp', traddr: '10.0.0.2', trsvcid: '4420', nqn: NQN_C } as const;

describe('the entry of a previous controller', () => {
  it('is reported, planned as unowned, and removed by gc', async () => {
    const first = await connect(h.ctx, A, { owner: 'stas' });
    await h.kernel.deleteController(first.device); // its remove event stays queued
    const raw = buildOptionString(parseConnectOptions(C), await h.kernel.supportedOptions()).value;
    const reply = await h.kernel.connect(raw);
    expect(`nvme${reply.instance}`).toBe(first.device);

    const entry = h.registry.read(first.device)!;
    expect(entry.owner).toBe('stas');
    expect(entry.verdict.kind).toBe('previous');
    expect(entry.verdict).toMatchObject({ reason: expect.stringMatching(/owned by "stas".*subsysnqn/) });

    const plan = await planFromHost(h.ctx, {});
    expect(plan.find((i) => i.device === first.device)).toMatchObject({
      action: 'disconnect',
      owner: null,
      reason: expect.stringMatching(/^unowned \(entry of a previous controller/),
    });
    const mine = await planFromHost(h.ctx, { owner: 'stas' });
    expect(mine.find((i) => i.device === first.device)?.action).toBe('skip');

    const from = h.events.length;
    const report = h.registry.gc({ graceMs: 0 });
    expect(report.removed.map((r) => [r.kind, r.device])).toEqual([['entry', first.device]]);
    expect(h.registry.read(first.device)).toBeNull();
    expect(h.events.slice(from)).toMatchObject([
      { action: 'gc-removed', device: first.device, reason: expect.stringMatching(/previous controller/) },
    ]);
    // the live controller itself is untouched
    expect(await h.kernel.controller(first.device)).not.toBeNull();
  });

  it('a connect that meets it replaces it (the reuse claim counts it as unowned)', async () => {
    const first = await connect(h.ctx, A, { owner: 'stas' });
    await h.kernel.deleteController(first.device);
    const raw = buildOptionString(parseConnectOptions(C), await h.kernel.supportedOptions()).value;
    await h.kernel.connect(raw);
    const r = await connect(h.ctx, C, { owner: 'k8s' });
    expect(r).toMatchObject({ device: first.device, reused: true, owner: 'k8s' });
    expect(h.registry.read(first.device)).toMatchObject({
      owner: 'k8s',
      verdict: { kind: 'owned', owner: 'k8s' },
      identity: { traddr: '10.0.0.2', subsysnqn: NQN_C },
    });
  });
});
