import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';

function complete(words: string[]): string[] {
  const script = `source ${JSON.stringify(path.join(REPO, 'completion', 'nvmf.bash'))}
COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _nvmf; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe('bash completion', () => {
  it.each([
    [
      ['nvmf', 'disc'],
      ['discover', 'disconnect', 'disconnect-all'],
    ],
    [['nvmf', 'registry', 'c'], ['claim']],
    [['nvmf', 'disconnect-all', '--d'], ['--dry-run']],
    [
      ['nvmf', '-o', ''],
      ['normal', 'json'],
    ],
    [['nvmf', 'connect', '-t', 'r'], ['rdma']],
    [['nvmf', 'registry', 'claim', '--if'], ['--if-unowned']],
    [['nvmf', 'connect', '--dhchap-c'], ['--dhchap-ctrl-secret']],
  ])('%j -> %j', (words, want) => {
    expect(complete(words)).toEqual(want);
  });
});
