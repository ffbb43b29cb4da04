import { describe, expect, it } from 'vitest';
import { applyBootCritical, BOOT_REASON, bootVerdict } from '../../src/engine/boot-critical.js';
import { type DisconnectAllPolicy, type PlanEntry, planDisconnectAll } from '../../src/engine/plan.js';
import type { ControllerInfo } from '../../src/kernel/port.js';
import { bootFactsOf, type NbftBootFacts, nbftServes } from '../../src/nbft/boot.js';
import { decodeNbft } from '../../src/nbft/decode.js';
import { NvmfError } from '../../src/errors.js';
import { buildNbft, sampleInput } from '../nbft/build.js';

/** The sample table's boot subsystem: tcp 192.168.49.20:4420 nqn.2024-01.io.example:boot. */
const BOOT = sampleInput().subsystems[0]!;
const facts: NbftBootFacts = bootFactsOf([
  { name: 'NBFT', path: 'NBFT', table: decodeNbft(buildNbft(sampleInput()), 'NBFT'), error: null },
]);
const broken: NbftBootFacts = bootFactsOf([
  {
    name: 'NBFT1',
    path: 'NBFT1',
    table: null,
    error: new NvmfError('ENBFT', 'NBFT table NBFT1: checksum: bytes sum to 7, not 0', {}),
  },
]);

function ctrl(device: string, over: Partial<ControllerInfo> = {}): ControllerInfo {
  return {
    device,
    instance: Number(device.slice(4)),
    transport: 'tcp',
    fabrics: true,
    address: { traddr: BOOT.traddr, trsvcid: '4420' },
    rawAddress: `traddr=${BOOT.traddr},trsvcid=4420`,
    subsysnqn: BOOT.subsysNqn,
    hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:someone-else',
    hostid: null,
    state: 'live',
    cntlid: 1,
    subsystemType: 'nvm',
    ...over,
  };
}

const other = ctrl('nvme2', { subsysnqn: 'nqn.2024-01.io.example:data' });
const pcie = ctrl('nvme3', { transport: 'pcie', fabrics: false, address: {}, rawAddress: '0000:01:00.0' });
const boot = ctrl('nvme1');

function plan(entries: PlanEntry[], policy: DisconnectAllPolicy, f = facts) {
  const controllers = [boot, other, pcie];
  return applyBootCritical(planDisconnectAll(controllers, entries, [], policy), f, policy);
}

describe('which controller serves a boot entry', () => {
  const e = facts.entries[0]!;
  it('by subsystem, transport, address in any spelling and port; not by host identity', () => {
    expect(nbftServes(e, boot)).toBe(true);
    expect(
      nbftServes(e, ctrl('nvme1', { address: { traddr: '::ffff:192.168.49.20', trsvcid: '4420' } })),
    ).toBe(true);
    expect(nbftServes(e, ctrl('nvme1', { address: { traddr: '192.168.49.21', trsvcid: '4420' } }))).toBe(
      false,
    );
    expect(nbftServes(e, ctrl('nvme1', { address: { traddr: BOOT.traddr, trsvcid: '4421' } }))).toBe(false);
    expect(nbftServes(e, ctrl('nvme1', { transport: 'rdma' }))).toBe(false);
    expect(nbftServes(e, other)).toBe(false);
    expect(nbftServes(e, ctrl('nvme1', { address: {} }))).toBe(false);
  });
  it('an entry without a port matches any port of that address', () => {
    const noPort = { ...e, trsvcid: null };
    expect(nbftServes(noPort, ctrl('nvme1', { address: { traddr: BOOT.traddr, trsvcid: '4421' } }))).toBe(
      true,
    );
  });
  it('a PCIe controller is never judged', () => {
    expect(bootVerdict(broken, pcie)).toBeNull();
  });
});

describe('the boot-critical row of the plan', () => {
  const modes: [string, DisconnectAllPolicy][] = [
    ['default', {}],
    ['--owner nbft', { owner: 'nbft' }],
    ['--owner X', { owner: 'X' }],
    ['--force', { force: true }],
  ];
  for (const owner of [null, 'nbft', 'X']) {
    for (const [name, policy] of modes) {
      it(`owner ${owner ?? 'none'}, ${name}: skip, ${BOOT_REASON}`, () => {
        const entries = owner === null ? [] : [{ device: 'nvme1', owner }];
        const item = plan(entries, policy).find((i) => i.device === 'nvme1');
        expect(item).toMatchObject({ action: 'skip', reason: BOOT_REASON, owner });
      });
    }
  }
  it('leaves other controllers to the rows after it, and the rows before it alone', () => {
    const p = plan([], { force: true });
    expect(p.find((i) => i.device === 'nvme2')).toMatchObject({ action: 'disconnect' });
    expect(p.find((i) => i.device === 'nvme3')?.reason).toContain('never disconnected');
    const tOnly = plan([], { force: true, transports: ['rdma'] });
    expect(tOnly.find((i) => i.device === 'nvme1')?.reason).toMatch(/^transport tcp not selected/);
  });
  it('--ignore-boot-critical plans it like any other controller, saying so', () => {
    const p = plan([], { force: true, ignoreBootCritical: true });
    expect(p.find((i) => i.device === 'nvme1')).toMatchObject({
      action: 'disconnect',
      reason: `--ignore-boot-critical (${BOOT_REASON}): --force: unowned (no registry entry)`,
    });
  });
  it('an unreadable table: every fabrics controller is skipped naming the table (fail safe)', () => {
    const p = plan([], { force: true }, broken);
    for (const d of ['nvme1', 'nvme2'])
      expect(p.find((i) => i.device === d)).toMatchObject({
        action: 'skip',
        reason:
          'boot table unreadable, the boot device cannot be told (NBFT table NBFT1: checksum: bytes sum to 7, not 0)',
      });
    expect(p.find((i) => i.device === 'nvme3')?.reason).toContain('never disconnected');
    const over = plan([], { force: true, ignoreBootCritical: true }, broken);
    expect(over.find((i) => i.device === 'nvme2')?.action).toBe('disconnect');
  });
  it('is pure: the input plan is not changed', () => {
    const before = planDisconnectAll([boot], [], [], {});
    const copy = JSON.parse(JSON.stringify(before));
    applyBootCritical(before, facts, {});
    expect(before).toEqual(copy);
  });
});
