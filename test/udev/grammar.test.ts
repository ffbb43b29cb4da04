import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GRAMMAR } from '../fixtures/grammar/cases.js';

const HELPER = path.resolve(import.meta.dirname, '..', '..', 'udev', 'nvmf-registry-cleanup');

/** Each case through the helper's own function, in one POSIX sh: a line of 1/0 per case. */
function verdicts(fn: 'is_dec' | 'valid_dev', cases: readonly string[]): boolean[] {
  const script = `NVMF_TEST_SOURCE_ONLY=1 . "$0"
for a in "$@"; do if ${fn} "$a"; then echo 1; else echo 0; fi; done`;
  const r = spawnSync('sh', ['-c', script, HELPER, ...cases], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l === '1');
}

describe('shared grammars (udev helper side)', () => {
  it('stamps: is_dec agrees with the table', () => {
    const got = verdicts(
      'is_dec',
      GRAMMAR.stamps.map(([t]) => t),
    );
    expect(GRAMMAR.stamps.map(([t], i) => [t, got[i]])).toEqual(GRAMMAR.stamps);
  });
  it('device names: valid_dev agrees with the table', () => {
    const got = verdicts(
      'valid_dev',
      GRAMMAR.devices.map(([t]) => t),
    );
    expect(GRAMMAR.devices.map(([t], i) => [t, got[i]])).toEqual(GRAMMAR.devices);
  });
});
