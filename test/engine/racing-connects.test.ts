import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN } from '../cli/helpers.js';
import { RACE_NQN, RACE_TARGETS } from './race/target.js';
import { makeSim, type SimHost } from './sim-helpers.js';

/**
 * DESIGN §4 race 4 with separate processes on one simulated host: connect A (owner A) is
 * stalled after the kernel's reply, its controller there and its intent live; connect B
 * (owner B, the CLI) starts then and must wait for A, which the test sees on B's stderr
 * before it lets A go on. No timing is assumed: each step waits for the other's line.
 */
const here = path.dirname(new URL(import.meta.url).pathname);
/** Generous: a step of a process on a loaded 2-core machine, not a timing assumption. */
const STEP_DEADLINE_MS = 90_000;

const children: ChildProcessWithoutNullStreams[] = [];
let h: SimHost | undefined;
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  h?.close();
  h = undefined;
});

interface Proc {
  /** The next line of `stream` matching `re`; fails if the process exits first or after the deadline. */
  lineMatching(stream: 'stdout' | 'stderr', re: RegExp): Promise<string>;
  /** Write a last line to stdin and close it. */
  send(line: string): void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function run(args: string[], env?: Record<string, string>): Proc {
  const p = spawn(process.execPath, args, { env: env ?? process.env });
  children.push(p);
  const text = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; re: RegExp; resolve: (l: string) => void }[] = [];
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    p.on('close', (code) => resolve({ code, ...text })),
  );
  for (const stream of ['stdout', 'stderr'] as const) {
    readline.createInterface({ input: p[stream] }).on('line', (l) => {
      text[stream] += `${l}\n`;
      const i = waiters.findIndex((w) => w.stream === stream && w.re.test(l));
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(l);
    });
  }
  return {
    lineMatching: (stream, re) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${stream} line ${re} within ${STEP_DEADLINE_MS} ms`)),
          STEP_DEADLINE_MS,
        );
        waiters.push({ stream, re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void done.then((r) => {
          clearTimeout(timer);
          reject(new Error(`exited ${r.code} before a ${stream} line ${re}: ${r.stderr}`));
        });
      }),
    send: (l) => p.stdin.end(`${l}\n`),
    done,
  };
}

async function race(mode: 'ok' | 'fail') {
  h = await makeSim(undefined, RACE_TARGETS);
  const a = run(['--import', 'tsx', path.join(here, 'race', 'paused-connect.ts'), h.dir, 'A', mode]);
  const paused = await a.lineMatching('stdout', /^paused nvme\d+$/);
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: h.dir,
    NVMF_KERNEL: `sim:${h.dir}`,
    NVMF_ETC_ROOT: path.join(h.dir, 'etc'),
    NVMF_AUDIT_SINK: 'stderr',
  };
  const b = run(
    [
      MAIN,
      'connect',
      '-t',
      'tcp',
      '-a',
      '10.0.0.1',
      '-s',
      '4420',
      '-n',
      RACE_NQN,
      '--owner',
      'B',
      '-o',
      'json',
    ],
    env,
  );
  // B has found A's controller and A's live intent, and waits.
  await b.lineMatching('stderr', /waiting for the connect in progress \(pid \d+, owner A\)/);
  a.send('go');
  const ra = await a.done;
  const rb = await b.done;
  return {
    device: paused.split(' ')[1]!,
    a: JSON.parse(ra.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>,
    b: rb,
  };
}

describe('racing connects have one winner', () => {
  it('the second waits for the first, then meets the reuse rules: a conflict naming the winner', async () => {
    const r = await race('ok');
    expect(r.a).toEqual({ ok: true, device: r.device, owner: 'A' });
    expect(r.b.code).toBe(1);
    const err = JSON.parse(r.b.stderr.trim().split('\n').at(-1)!) as {
      error: { code: string; message: string };
    };
    expect(err.error.code).toBe('EOWNER_CONFLICT');
    expect(err.error.message).toContain(`${r.device} is already connected to this target and owned by "A"`);
    expect(err.error.message).toContain('connect --force');
    expect(h!.registry.read(r.device)?.owner).toBe('A');
    expect((await h!.kernel.listControllers()).map((c) => c.device)).toEqual([r.device]);
  }, 200_000);

  it('if the first connect fails, the second connects anew and owns the controller', async () => {
    const r = await race('fail');
    expect(r.a.ok).toBe(false);
    expect(r.b.code, r.b.stderr).toBe(0);
    const out = JSON.parse(r.b.stdout) as { device: string; owner: string; reused: boolean };
    expect(out).toMatchObject({ owner: 'B', reused: false });
    expect(h!.registry.read(out.device)?.owner).toBe('B');
    expect((await h!.kernel.listControllers()).map((c) => c.device)).toEqual([out.device]);
  }, 200_000);
});
