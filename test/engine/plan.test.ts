import { describe, expect, it } from 'vitest';
import { type DisconnectAllPolicy, type PlanEntry, planDisconnectAll } from '../../src/engine/plan.js';
import { mapPool } from '../../src/engine/pool.js';
import { isNvmfError } from '../../src/errors.js';
import type { ControllerInfo } from '../../src/kernel/port.js';
import type { ConnectIntentRecord } from '../../src/registry/intents.js';

const NQN = 'nqn.2024-01.io.example:sub';

function ctrl(device: string, over: Partial<ControllerInfo> = {}): ControllerInfo {
  return {
    device,
    instance: Number(device.slice(4)),
    transport: 'tcp',
    fabrics: true,
    address: { traddr: '10.0.0.1', trsvcid: '4420' },
    rawAddress: 'traddr=10.0.0.1,trsvcid=4420',
    subsysnqn: NQN,
    hostnqn: 'nqn.2024-01.io.example:host',
    hostid: null,
    state: 'live',
    cntlid: 1,
    subsystemType: 'nvm',
    ...over,
  };
}

type OwnerState = 'none' | 'X' | 'Y' | 'unreadable' | 'PCIe';
type Column = 'default' | '--owner X' | '--force';
const POLICY: Record<Column, DisconnectAllPolicy> = {
  default: {},
  '--owner X': { owner: 'X' },
  '--force': { force: true },
};

/** Builds the one-controller snapshot a row of the table talks about. */
function snapshot(state: OwnerState): { controllers: ControllerInfo[]; entries: PlanEntry[] } {
  switch (state) {
    case 'none':
      return { controllers: [ctrl('nvme1')], entries: [] };
    case 'X':
    case 'Y':
      return { controllers: [ctrl('nvme1')], entries: [{ device: 'nvme1', owner: state }] };
    case 'unreadable':
      return {
        controllers: [ctrl('nvme1')],
        entries: [{ device: 'nvme1', owner: null, error: { message: 'owner is a symlink' } }],
      };
    case 'PCIe':
      return {
        controllers: [
          ctrl('nvme1', { transport: 'pcie', fabrics: false, address: {}, rawAddress: '0000:01:00.0' }),
        ],
        entries: [{ device: 'nvme1', owner: 'X' }],
      };
  }
}

// DESIGN.md §5, row by row:
// | registry owner | default | --owner X | --force |
const TABLE: Array<[OwnerState, Record<Column, ['disconnect' | 'skip', RegExp]>]> = [
  [
    'none',
    {
      default: ['disconnect', /unowned/],
      '--owner X': ['skip', /unowned, not owned by X/],
      '--force': ['disconnect', /--force: unowned/],
    },
  ],
  [
    'X',
    {
      default: ['skip', /owned by X/],
      '--owner X': ['disconnect', /owned by X/],
      '--force': ['disconnect', /--force: owned by X/],
    },
  ],
  [
    'Y',
    {
      default: ['skip', /owned by Y/],
      '--owner X': ['skip', /owned by Y, not X/],
      '--force': ['disconnect', /--force: owned by Y/],
    },
  ],
  [
    'unreadable',
    {
      default: ['skip', /owner unknown \(unreadable: owner is a symlink/],
      '--owner X': ['skip', /unreadable/],
      '--force': ['disconnect', /--force: owner unknown \(unreadable/],
    },
  ],
  [
    'PCIe',
    {
      default: ['skip', /not fabrics: never/],
      '--owner X': ['skip', /not fabrics: never/],
      '--force': ['skip', /not fabrics: never/],
    },
  ],
];

describe("DESIGN.md's disconnect-all table", () => {
  for (const [state, cols] of TABLE) {
    for (const col of Object.keys(cols) as Column[]) {
      const [action, reason] = cols[col];
      it(`owner ${state} | ${col} -> ${action}`, () => {
        const { controllers, entries } = snapshot(state);
        const [item] = planDisconnectAll(controllers, entries, [], POLICY[col]);
        expect(item?.action).toBe(action);
        expect(item?.reason).toMatch(reason);
        expect(item?.device).toBe('nvme1');
      });
    }
  }
});

describe('connect intents', () => {
  const intent = (
    over: Partial<ConnectIntentRecord['target']> = {},
    owner = 'stas',
  ): ConnectIntentRecord => ({
    pid: 4242,
    owner,
    startedAt: 0,
    path: '/x/.intent.4242.ab',
    target: { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', subsysnqn: NQN, ...over },
  });

  // | state | default | --owner X | --force |
  const ROWS: Array<[string, ConnectIntentRecord[], DisconnectAllPolicy, 'disconnect' | 'skip', RegExp]> = [
    [
      'no entry, matching live intent',
      [intent()],
      {},
      'skip',
      /connect in progress \(owner stas, pid 4242\)/,
    ],
    [
      'no entry, matching intent, --owner stas',
      [intent()],
      { owner: 'stas' },
      'skip',
      /unowned, not owned by stas/,
    ],
    ['no entry, matching intent, --force', [intent()], { force: true }, 'disconnect', /--force: unowned/],
    [
      'no entry, intent for another subsystem',
      [intent({ subsysnqn: `${NQN}2` })],
      {},
      'disconnect',
      /unowned/,
    ],
    ['no entry, intent for another port', [intent({ trsvcid: '4421' })], {}, 'disconnect', /unowned/],
    [
      'no entry, intent without port (matches any)',
      [intent({ trsvcid: undefined })],
      {},
      'skip',
      /connect in progress/,
    ],
  ];
  it.each(ROWS)('%s -> %s', (_n, intents, policy, action, reason) => {
    const [item] = planDisconnectAll([ctrl('nvme1')], [], intents, policy);
    expect(item?.action).toBe(action);
    expect(item?.reason).toMatch(reason);
  });

  it('an entry with an empty owner still honours an intent (recycled instance being re-connected)', () => {
    const [item] = planDisconnectAll([ctrl('nvme1')], [{ device: 'nvme1', owner: null }], [intent()], {});
    expect(item?.action).toBe('skip');
  });
});

describe('policy checks and filters', () => {
  it('--owner and --force together is a usage error', () => {
    let err: unknown;
    try {
      planDisconnectAll([], [], [], { owner: 'X', force: true });
    } catch (e) {
      err = e;
    }
    expect(isNvmfError(err, 'EUSAGE')).toBe(true);
    expect(String(err)).toMatch(/mutually exclusive/);
  });

  it('entries that cannot be read as an array or a Map are bad input, not a TypeError', () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    // a proxy of a Map is a Map to instanceof, but its methods refuse it as their receiver
    for (const entries of [revoked, new Proxy(new Map(), {})]) {
      let err: unknown;
      try {
        planDisconnectAll([ctrl('nvme1')], entries as never, [], {});
      } catch (e) {
        err = e;
      }
      expect(isNvmfError(err, 'EINVALID_OPTION')).toBe(true);
      expect(String(err)).toMatch(/entries must be an array or a Map/);
    }
    // a real Map still plans
    const [item] = planDisconnectAll(
      [ctrl('nvme1')],
      new Map([['nvme1', { device: 'nvme1', owner: 'x' }]]),
      [],
      {},
    );
    expect(item).toMatchObject({ device: 'nvme1', action: 'skip', owner: 'x' });
  });

  it('an invalid --owner is rejected', () => {
    expect(() => planDisconnectAll([], [], [], { owner: 'a/b' })).toThrow(/invalid owner/);
  });

  it('the transport filter skips other transports, and never selects PCIe', () => {
    const cs = [
      ctrl('nvme0', { transport: 'pcie', fabrics: false }),
      ctrl('nvme1'),
      ctrl('nvme2', { transport: 'rdma' }),
    ];
    const plan = planDisconnectAll(cs, [], [], { transports: ['rdma'], force: true });
    expect(plan.map((p) => [p.device, p.action])).toEqual([
      ['nvme0', 'skip'],
      ['nvme1', 'skip'],
      ['nvme2', 'disconnect'],
    ]);
    expect(plan[1]?.reason).toMatch(/transport tcp not selected \(rdma\)/);
  });

  it('plans every controller in order and carries owner and transport', () => {
    const plan = planDisconnectAll(
      [ctrl('nvme1'), ctrl('nvme2'), ctrl('nvme10')],
      new Map([['nvme2', { device: 'nvme2', owner: 'stas' }]]),
      [],
      {},
    );
    // each item carries the controller it was planned from
    expect(plan.map((p) => p.controller.device)).toEqual(['nvme1', 'nvme2', 'nvme10']);
    expect(plan.map(({ controller: _c, ...view }) => view)).toEqual([
      {
        device: 'nvme1',
        transport: 'tcp',
        owner: null,
        action: 'disconnect',
        reason: 'unowned (no registry entry)',
      },
      { device: 'nvme2', transport: 'tcp', owner: 'stas', action: 'skip', reason: 'owned by stas' },
      {
        device: 'nvme10',
        transport: 'tcp',
        owner: null,
        action: 'disconnect',
        reason: 'unowned (no registry entry)',
      },
    ]);
  });
});

describe('mapPool', () => {
  it('bounds concurrency, keeps order and reports each failure', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5 + (n % 3)));
      inFlight--;
      if (n % 2 === 0) throw new Error(`even ${n}`);
      return n * 10;
    });
    expect(peak).toBe(3);
    expect(results.map((r) => (r.ok ? r.value : (r.error as Error).message))).toEqual([
      10,
      'even 2',
      30,
      'even 4',
      50,
      'even 6',
      70,
    ]);
  });

  it('handles an empty list and rejects a bad concurrency', async () => {
    expect(await mapPool([], 4, async () => 1)).toEqual([]);
    await expect(mapPool([1], 0, async () => 1)).rejects.toThrow(/positive integer/);
  });
});
