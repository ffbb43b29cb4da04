import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT_CLOSED_PIPE, endQuietlyOnClosedPipe } from '../../src/cli/closed-pipe.js';
import { MAIN, tempHost, writeEntry } from './helpers.js';
import { tableHost } from './sim-host.js';

/**
 * `nvmf ... | head` where the reader is already gone: the child's stdout is a pipe whose read
 * end the parent closes before the child writes (the child needs far longer to start), so
 * every write meets EPIPE deterministically.
 */
function runWithClosedStdout(
  env: Record<string, string>,
  args: readonly string[],
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.destroy();
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('a closed stdout ends nvmf quietly with 141', () => {
  const host = tempHost();
  for (let i = 0; i < 40; i++) writeEntry(host, `nvme${i}`, { owner: `owner-${i}`, note: 'x'.repeat(200) });

  it.each([
    [['--help']],
    [['--version']],
    [['list', '--help']],
    [['registry', 'list']],
    [['registry', 'list', '-o', 'json']],
    [['registry', 'list', '--all', '-v']],
  ])('%j', async (args) => {
    const r = await runWithClosedStdout(host.env, args);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: EXIT_CLOSED_PIPE, signal: null });
  });

  it('list and disconnect-all --dry-run on a simulated host, text and JSON', async () => {
    const sim = await tableHost();
    for (const args of [
      ['list', '-v'],
      ['list', '-o', 'json'],
      ['disconnect-all', '--dry-run', '-o', 'json'],
    ]) {
      const r = await runWithClosedStdout(sim.env, args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(EXIT_CLOSED_PIPE);
    }
  });
});

describe('a long-running command whose reader left', () => {
  it('registry watch ends with 141 at its first event instead of watching forever', async () => {
    const host = tempHost();
    const c = spawn(process.execPath, [MAIN, 'registry', 'watch'], {
      env: host.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout.destroy();
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = new Promise<[number | null, string | null]>((resolve) =>
      c.on('close', (code, signal) => resolve([code, signal])),
    );
    let exited = false;
    void closed.then(() => (exited = true));
    // The watcher prints nothing until its first event, so there is no readiness line to wait
    // for: the owner keeps changing until it exits. A change before it watches is part of its
    // starting snapshot; the first change after that is an event, which meets the closed pipe.
    const deadline = Date.now() + 60_000;
    for (let i = 0; !exited; i++) {
      if (Date.now() > deadline) c.kill('SIGKILL');
      writeEntry(host, 'nvme1', { owner: i % 2 === 0 ? 'stas' : 'k8s' });
      await Promise.race([closed, new Promise((r) => setTimeout(r, 200))]);
    }
    const [code, signal] = await closed;
    expect({ code, signal, stderr }).toEqual({ code: EXIT_CLOSED_PIPE, signal: null, stderr: '' });
  });
});

describe('other write errors', () => {
  it.runIf(fs.existsSync('/dev/full'))(
    'stdout on a full device: exit 1 naming the errno on stderr',
    async () => {
      const host = tempHost();
      const out = fs.openSync('/dev/full', 'w');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [MAIN, '--help'], {
          env: host.env,
          stdio: ['ignore', out, 'pipe'],
        });
        let stderr = '';
        c.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        c.on('close', (code) => resolve({ code, stderr }));
      });
      fs.closeSync(out);
      expect(r).toEqual({ code: 1, stderr: 'nvmf: cannot write the output: ENOSPC\n' });
    },
  );

  it.each([
    ['stdout', 'EPIPE', EXIT_CLOSED_PIPE, ''],
    ['stdout', 'ERR_STREAM_DESTROYED', EXIT_CLOSED_PIPE, ''],
    ['stdout', 'EIO', 1, 'nvmf: cannot write the output: EIO\n'],
    ['stderr', 'EPIPE', EXIT_CLOSED_PIPE, ''],
    ['stderr', 'EIO', 1, ''],
  ] as const)('%s %s -> exit %i', (which, code, exit, shown) => {
    const stdout = Object.assign(new EventEmitter(), { write: (_s: string) => true });
    let written = '';
    const stderr = Object.assign(new EventEmitter(), {
      write: (s: string) => {
        written += s;
        return true;
      },
    });
    const exits: number[] = [];
    endQuietlyOnClosedPipe(stdout, stderr, (c) => exits.push(c));
    const e = Object.assign(new Error(code), { code });
    (which === 'stdout' ? stdout : stderr).emit('error', e);
    expect(exits).toEqual([exit]);
    expect(written).toBe(shown);
  });
});
