import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTargets, parseTargets } from '../../src/kernel/sim/targets.js';
import { nvmf } from '../cli/helpers.js';

const PORT = { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' };
const NQN = 'nqn.2024-01.io.example:a';

describe('sim targets file: unknown keys are refused', () => {
  it.each([
    [{ subsystem: [] }, 'top level', 'subsystem'],
    [{ subsystems: [{ nqn: NQN, ...PORT, namespace: 2 }] }, 'subsystems[0]', 'namespace'],
    [{ subsystems: [{ nqn: NQN, ports: [PORT], traddr: '10.0.0.1' }] }, 'subsystems[0]', 'traddr'],
    [{ subsystems: [{ nqn: NQN, ports: [{ ...PORT, trsvcd: '1' }] }] }, 'subsystems[0].ports[0]', 'trsvcd'],
    [{ discovery: [{ ...PORT, referral: [] }] }, 'discovery[0]', 'referral'],
    [
      { discovery: [{ ...PORT, entries: [{ ...PORT, subnqn: NQN, subtyp: 'nvm' }] }] },
      'discovery[0].entries[0]',
      'subtyp',
    ],
    [
      { discovery: [{ ...PORT, referrals: [{ ...PORT, genctr: 1 }] }] },
      'discovery[0].referrals[0]',
      'genctr',
    ],
  ])('%j', (targets, where, key) => {
    expect(() => parseTargets(targets)).toThrow(
      expect.objectContaining({
        code: 'EINVALID_VALUE',
        message: expect.stringContaining(`sim targets: ${where}: unknown key "${key}"`),
      }),
    );
  });

  it('accepts every key docs/sim.md shows', () => {
    const t = parseTargets({
      subsystems: [
        { nqn: NQN, ...PORT, namespaces: 1 },
        {
          nqn: `${NQN}2`,
          namespaces: 2,
          ports: [PORT, { ...PORT, traddr: '10.0.1.1' }],
          allowedHosts: ['nqn.h'],
        },
      ],
      discovery: [
        {
          ...PORT,
          trsvcid: '8009',
          entries: [{ ...PORT, subnqn: NQN, subtype: 'nvm', portid: 1, treq: 0 }],
          referrals: [{ ...PORT, traddr: '192.0.2.7', trsvcid: '8009' }],
          genctr: 3,
        },
      ],
    });
    expect(t.subsystems).toHaveLength(2);
    expect(t.discovery[0]?.referrals).toHaveLength(1);
  });

  it('nvmf sim init --targets with a misspelt key fails with the key and where it is', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-targets-'));
    const file = path.join(dir, 'targets.json');
    fs.writeFileSync(file, JSON.stringify({ subsystems: [{ nqn: NQN, ...PORT, namespace: 2 }] }));
    expect(() => loadTargets(file)).toThrow(/unknown key "namespace"/);
    const r = nvmf({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir }, [
      'sim',
      'init',
      path.join(dir, 'host'),
      '--targets',
      file,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('sim targets: subsystems[0]: unknown key "namespace"');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
