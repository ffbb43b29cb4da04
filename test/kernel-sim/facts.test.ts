import { afterEach, describe, expect, it } from 'vitest';
import type { SimKernel } from '../../src/kernel/sim.js';
import * as facts from './facts.js';
import { newSim, simFactEnv } from './helpers.js';

describe('kernel facts on the simulated kernel', () => {
  let k: SimKernel | undefined;
  afterEach(() => k?.close());

  const run = async <T>(fn: (env: facts.FactEnv) => Promise<T>): Promise<T> => {
    const s = await newSim();
    k = s.kernel;
    return fn(simFactEnv(s.dir, s.kernel));
  };

  it('connect replies and shows a live controller; delete is synchronous', async () => {
    expect((await run(facts.factConnectAndDelete)).device).toBe('nvme0');
  });
  it('EALREADY on a duplicate unless duplicate_connect', () => run(facts.factEalready));
  it('ECONNREFUSED when nothing listens', () => run(facts.factEconnrefused));
  it('EIO for an unknown subsystem NQN', () => run(facts.factEioUnknownSubsystem));
  it('EINVAL for junk, unknown transport, unknown option', () => run(facts.factEinval));
  it('lowest free instance with the subsystem exception', async () => {
    expect((await run(facts.factInstanceAllocation)).sequence).toEqual([0, 1, 2, 2, 3, 0]);
  });
  it('seqnum: +7 per connect and +6 per delete (one namespace)', async () => {
    expect(await run(facts.factSeqnum)).toEqual({ connect: 7, delete: 6 });
  });
  it('device node is gone before the remove event is processed', () =>
    run(facts.factNodeGoneBeforeRemoveEvent));
  it('namespaces resolve to existing block devices', async () => {
    expect((await run(facts.factNamespaces)).namespaces).toEqual(['nvme0n1']);
  });
  it('discovery log page with referrals', async () => {
    expect(await run(facts.factDiscoveryLog)).toEqual({ entries: 4, referrals: 1 });
  });
});
