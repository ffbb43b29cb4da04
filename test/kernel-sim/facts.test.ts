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

  it('connect replies and shows a live controller (tcp address with src_addr); delete is synchronous', async () => {
    expect(await run(facts.factConnectAndDelete)).toEqual({
      device: 'nvme0',
      address: 'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1',
    });
  });
  it('EALREADY on a duplicate unless duplicate_connect', () => run(facts.factEalready));
  it('ECONNREFUSED when nothing listens', () => run(facts.factEconnrefused));
  it('EIO for an unknown subsystem NQN', () => run(facts.factEioUnknownSubsystem));
  it('EINVAL for junk, unknown transport, unknown option', () => run(facts.factEinval));
  it('lowest free instance with the subsystem exception', async () => {
    expect((await run(facts.factInstanceAllocation)).sequence).toEqual([0, 1, 2, 2, 3, 0]);
  });
  it('the subsystem exception as measured: first 0, sibling 1, then 2, then 0 again', async () => {
    expect(await run(facts.factInstanceSubsystemException)).toEqual({
      first: 0,
      sibling: 1,
      afterDeletingFirst: 2,
      again: 0,
    });
  });
  it('seqnum, one namespace: +4 at the reply, +7 once scanned, +6 per delete', async () => {
    expect(await run(facts.factSeqnum)).toEqual({ atReply: 4, afterScan: 7, delete: 6 });
  });
  it('seqnum, no namespace: +4, +4, +3', async () => {
    expect(await run(facts.factSeqnumNoNamespace)).toEqual({ atReply: 4, afterScan: 4, delete: 3 });
  });
  it('seqnum, discovery controller: +3, +3, +2', async () => {
    expect(await run(facts.factSeqnumDiscovery)).toEqual({ atReply: 3, afterScan: 3, delete: 2 });
  });
  it('seqnum: a delete right after the reply carries the scan events (4 + 3 + 6)', async () => {
    expect(await run(facts.factSeqnumDeleteRightAfterConnect)).toEqual({
      scanRan: true,
      connectAndDelete: 13,
    });
  });
  it('remove rule once per removal, SEQNUM in range, device node already gone', () =>
    run(facts.factNodeGoneBeforeRemoveEvent));
  it('namespaces resolve to existing block devices', async () => {
    expect((await run(facts.factNamespaces)).namespaces).toEqual(['nvme0n1']);
  });
  it("nvmet's discovery log: current-discovery entry, then the subsystems this host may see", async () => {
    expect(await run(facts.factDiscoveryLog)).toEqual({ entries: 3, referrals: 0, current: 1 });
  });
  it('path loss: connecting without src_addr, EALREADY meanwhile, back live on the same instance (+0, +2)', async () => {
    expect(await run(facts.factPathLossRecovery)).toEqual({
      stateWhileDown: 'connecting',
      srcAddrWhileDown: false,
      connectWhileDown: 'EALREADY',
      lossEvents: 0,
      recoveryEvents: 2,
      cntlidKept: true,
      namespacesKept: true,
    });
  });
  it('path loss past ctrl_loss_tmo: the kernel removes the controller, the rule runs once (+6)', async () => {
    expect(await run(facts.factPathLossRemoval)).toEqual({
      sawConnecting: true,
      removeEvents: 6,
      ruleRuns: 1,
    });
  });
  it('a connect while the previous controller to the target is deleting makes a new controller', async () => {
    expect(await run(facts.factConnectWhileDeleting)).toEqual({
      oldDeleting: true,
      second: 'connected',
      newInstance: true,
    });
  });
  it('a delete while the path is down does not wait for the target (+6)', async () => {
    expect(await run(facts.factDeleteWhilePathDown)).toEqual({ deleteEvents: 6 });
  });
});
