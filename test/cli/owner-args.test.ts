import { describe, expect, it } from 'vitest';
import { nvmf, readOwner, tempHost, writeEntry } from './helpers.js';
import { tableHost } from './sim-host.js';

/**
 * Every owner-valued option is checked while the command line is parsed: a value that is
 * really the next flag (`--owner --yes`) or breaks the owner grammar is exit 2 before
 * anything is read. NVMF_KERNEL points at a directory that is no simulated host, so a
 * command that got past parsing would fail differently (exit 2 naming the sim, not the owner).
 */
const NOT_A_HOST = { NVMF_KERNEL: 'sim:/nonexistent/nvmf-test-host' };
const TCP = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', 'nqn.2014-08.org.example:vol1'];
const LOOKS = (flag: string, v: string): string =>
  `nvmf: ${flag} needs an owner name but got "${v}", which looks like an option; write ${flag} NAME (on the command line an owner cannot start with '-')`;
const LONG = 'x'.repeat(65);

describe('owner options are validated at parse time (exit 2)', () => {
  const host = tempHost(NOT_A_HOST);
  it.each([
    [['disconnect-all', '--owner', '--yes'], LOOKS('--owner', '--yes')],
    [['disconnect-all', '--owner', '--dry-run'], LOOKS('--owner', '--dry-run')],
    [['disconnect-all', '--owner', '--force', '--yes'], LOOKS('--owner', '--force')],
    [['disconnect-all', '--yes', '--owner=--yes'], LOOKS('--owner', '--yes')],
    [['disconnect-all', '--owner', '-t', 'tcp'], LOOKS('--owner', '-t')],
    [
      ['disconnect-all', '--owner='],
      'nvmf: --owner needs an owner name, got an empty one; write --owner NAME',
    ],
    [['disconnect-all', '--owner', 'a/b', '--yes'], 'nvmf: invalid owner "a/b": it contains \'/\''],
    [['disconnect-all', '--owner', LONG, '--yes'], 'it is 65 bytes long, the limit is 64'],
    [['disconnect-all', '--owner', 'a\tb'], 'nvmf: invalid owner "a\\tb"'],
    [['connect', ...TCP, '--owner', '--nbft'], LOOKS('--owner', '--nbft')],
    [['connect', ...TCP, '--owner', '-D'], LOOKS('--owner', '-D')],
    [['connect-all', '-t', 'tcp', '-a', '127.0.0.1', '--owner', '--nbft'], LOOKS('--owner', '--nbft')],
    [['discover', '-t', 'tcp', '-a', '127.0.0.1', '--owner', 'a/b'], 'nvmf: invalid owner "a/b"'],
    [['registry', 'claim', 'nvme3', '--owner', '--if-unowned'], LOOKS('--owner', '--if-unowned')],
    [['registry', 'claim', 'nvme3', '--owner', 'stas', '--expect', '--yes'], LOOKS('--expect', '--yes')],
    [
      ['registry', 'claim', 'nvme3', '--owner', 'stas', '--expect='],
      'nvmf: --expect needs an owner name, got an empty one',
    ],
    [['registry', 'claim', 'nvme3', '--owner', LONG], 'it is 65 bytes long, the limit is 64'],
  ])('%j', (args, message) => {
    const r = nvmf(host.env, args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.messages).toContain(message);
    expect(r.audit).toEqual([]);
  });

  it('-o json reports the parse-time error as a JSON error object', () => {
    const r = nvmf(host.env, ['-o', 'json', 'disconnect-all', '--owner', '--yes']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr)).toEqual({
      error: { code: 'EUSAGE', message: LOOKS('--owner', '--yes').slice('nvmf: '.length) },
    });
  });
});

describe('valid owner options still work', () => {
  it('disconnect-all --owner stas --yes disconnects only stas’s controller', async () => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', '--owner', 'stas', '--yes', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(await host.controllers()).toEqual(['nvme0', 'nvme2', 'nvme3', 'nvme9']);
  });

  it('--owner=NAME form and an owner with spaces and UTF-8; claim --expect', () => {
    const host = tempHost();
    writeEntry(host, 'nvme3', { owner: 'stas' });
    const a = nvmf(host.env, ['registry', 'claim', 'nvme3', '--owner=k8s csi ✓', '--expect', 'stas']);
    expect(a.code, a.stderr).toBe(0);
    expect(readOwner(host, 'nvme3')).toBe('k8s csi ✓');
  });
});
