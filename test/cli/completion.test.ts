import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAIN, REPO } from './helpers.js';
import { type SimHost, tableHost } from './sim-host.js';

/**
 * The shipped bash script end to end: it is sourced, COMP_WORDS set as bash sets them, and
 * _nvmf asks the built program (`COMP_WORDS[0]` is the bin's path) for the candidates.
 */
function complete(words: string[], env: Record<string, string> = {}): string[] {
  const script = `source ${JSON.stringify(path.join(REPO, 'completion', 'nvmf.bash'))}
COMP_WORDS=(${[MAIN, ...words].map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length}; _nvmf; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NVMF_AUDIT_SINK: 'off', ...env },
    timeout: 30_000,
  });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((l) => l !== '');
}

let host: SimHost;
beforeAll(async () => {
  host = await tableHost();
  // a stale entry: in the registry, its controller gone from sysfs (registry delete takes it)
  const stale = path.join(host.dir, 'run', 'nvme', 'registry', 'nvme7');
  fs.mkdirSync(stale, { recursive: true });
  fs.writeFileSync(path.join(stale, 'owner'), 'gone\n');
});

describe('bash completion', () => {
  it.each([
    [['disc'], ['discover', 'disconnect', 'disconnect-all']],
    [['registry', 'c'], ['claim']],
    [['disconnect-all', '--d'], ['--dry-run']],
    [
      ['-o', ''],
      ['normal', 'json'],
    ],
    [['connect', '-t', 'r'], ['rdma']],
    [['registry', 'claim', '--if'], ['--if-unowned']],
    [['connect', '--dhchap-c'], ['--dhchap-ctrl-secret']],
    // global options before the command
    [['-o', 'json', 'reg'], ['registry']],
    [
      ['-v', '-o', 'json', 'registry', 'l'],
      ['list', 'log'],
    ],
    // every command's options, plugins' included
    [['registry', 'watch', '--i'], ['--initial']],
    [['registry', 'export', '--f'], ['--format']],
    [['monitor', '--n'], ['--no-udev']],
    [
      ['disconnect-all', '-t', ''],
      ['tcp', 'rdma', 'fc', 'loop'],
    ],
    [['list', '--output'], ['--output-format']],
    [['help', 'registry', 'w'], ['watch']],
    [['he'], ['help']],
    [
      ['sim', 'u'],
      ['udev-settle', 'umount'],
    ],
  ])('%j -> %j', (words, want) => {
    expect(complete(words)).toEqual(want);
  });

  it('offers no hidden command', () => {
    expect(complete([''])).not.toContain('__complete');
    expect(complete(['__'])).toEqual([]);
  });

  it('device names come from the registry and sysfs of a sim host', () => {
    const env = host.env;
    // sysfs: nvme0-3 (fabrics) and nvme9 (PCIe); the registry adds the stale nvme7
    expect(complete(['disconnect', '-d', ''], env)).toEqual([
      'nvme0',
      'nvme1',
      'nvme2',
      'nvme3',
      'nvme7',
      'nvme9',
    ]);
    expect(complete(['registry', 'delete', 'nvme'], env)).toContain('nvme7');
    expect(complete(['-o', 'json', 'registry', 'claim', 'nvme1'], env)).toEqual(['nvme1']);
    // a device operand is taken once: nothing more after it
    expect(complete(['registry', 'claim', 'nvme1', 'nvme'], env)).toEqual([]);
  });
});
