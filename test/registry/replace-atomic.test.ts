import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReplaceAtomicCounts } from '../torture/replace-atomic.js';

/**
 * DESIGN §4 race 5, replacement: test/torture/replace-atomic.ts (a lock-less reader in one
 * process, a replace loop in another) for a modest count; `npm run torture` runs it long.
 */
const script = path.resolve(import.meta.dirname, '../torture/replace-atomic.ts');

function run(args: string[]): Promise<ReplaceAtomicCounts> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ReplaceAtomicCounts);
      } catch {
        reject(new Error(`replace-atomic printed no counts: ${out} ${err}`));
      }
    });
  });
}

describe('replacing an entry, seen by a reader that takes no lock', () => {
  it('create() over an existing entry never shows it absent or partial', { timeout: 180_000 }, async () => {
    const counts = await run(['--reads', '20000']);
    console.log('create:', JSON.stringify(counts));
    expect(counts.reads).toBe(20_000);
    expect(counts.absent).toBe(0);
    expect(counts.partial).toBe(0);
    // the reader ran beside a replace loop, not after it
    expect(counts.replaces).toBeGreaterThan(10);
  });

  it(
    'the same reader does see the gap of a two-rename replacement (the harness meets the window)',
    {
      timeout: 300_000,
    },
    async () => {
      let counts: ReplaceAtomicCounts | null = null;
      for (let round = 0; round < 5; round++) {
        counts = await run(['--reads', '20000', '--replacer', 'plain']);
        if (counts.absent > 0) break;
      }
      console.log('plain:', JSON.stringify(counts));
      expect(counts!.absent).toBeGreaterThan(0);
    },
  );
});
