import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { RACE_TARGETS } from './race/target.js';
import { makeSim, type SimHost } from './sim-helpers.js';

/**
 * DESIGN §4.2 with separate processes on one simulated host: a connector that connects with
 * an owner, and a plain disconnect-all beside it. The forced tests stall the connector in
 * the window that matters (controller live, entry not yet written) and run one disconnect-all
 * inside it, on every iteration; the free-running test lets both loop with no coordination.
 */
const here = path.dirname(new URL(import.meta.url).pathname);
/** Generous: a step of a worker on a loaded 2-core machine, not a timing assumption. */
const STEP_DEADLINE_MS = 90_000;

interface Worker {
  /** The next stdout line; fails when the worker exits first or after STEP_DEADLINE_MS. */
  line(): Promise<string>;
  send(line: string): void;
  /** End stdin and return the worker's last stdout line, parsed. */
  finish(): Promise<Record<string, unknown>>;
  kill(): void;
}

const workers: ChildProcessWithoutNullStreams[] = [];

function start(script: string, args: string[]): Worker {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'race', script), ...args]);
  workers.push(p);
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  const lines = readline.createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  let last = '';
  const next = async (): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${script}: no line within ${STEP_DEADLINE_MS} ms`)),
        STEP_DEADLINE_MS,
      );
    });
    try {
      const r = await Promise.race([lines.next(), deadline]);
      if (r.done) throw new Error(`${script} exited ${await exited} before its next line: ${err}`);
      last = r.value;
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    line: next,
    send: (l) => p.stdin.write(`${l}\n`),
    async finish() {
      p.stdin.end();
      for (;;) {
        const r = await lines.next();
        if (r.done) break;
        last = r.value;
      }
      const code = await exited;
      if (code !== 0) throw new Error(`${script} exited ${code}: ${err}`);
      return JSON.parse(last) as Record<string, unknown>;
    },
    kill: () => p.kill('SIGKILL'),
  };
}

/**
 * `iterations` connects, each stalled after the kernel's reply while one disconnect-all runs
 * to completion; returns what each of those disconnect-alls did to the stalled controller.
 */
async function forced(h: SimHost, iterations: number, mode: 'intents' | 'no-intents') {
  const dis = start('disconnector.ts', [h.dir, 'on-demand']);
  const con = start('connector.ts', [h.dir, String(iterations), mode, 'paused']);
  const rounds: { device: string; skipped: string[]; deleted: string[] }[] = [];
  for (let i = 0; i < iterations; i++) {
    const paused = /^paused (nvme\d+)$/.exec(await con.line());
    expect(paused, 'the connector stalls after each reply').not.toBeNull();
    dis.send('run');
    const r = JSON.parse(await dis.line()) as { skipped: string[]; deleted: string[] };
    rounds.push({ device: paused![1]!, ...r });
    con.send('go');
  }
  return { rounds, con: await con.finish(), dis: await dis.finish() };
}

let h: SimHost | undefined;
afterEach(() => {
  for (const w of workers.splice(0)) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  h?.close();
  h = undefined;
});

describe('connect versus disconnect-all (separate processes)', () => {
  it('with connect intents, disconnect-all inside the window skips the controller every time', async () => {
    h = await makeSim({ latency: { connectMs: 0, deleteMs: 0 } }, RACE_TARGETS);
    const { rounds, con, dis } = await forced(h, 20, 'intents');
    for (const r of rounds) expect(r).toEqual({ device: r.device, skipped: [r.device], deleted: [] });
    expect(con).toMatchObject({ done: 20, lost: 0 });
    expect(dis).toMatchObject({ runs: 20, inProgressSkips: 20, deletedTarget: 0 });
  }, 180_000);

  it('without intents (upstream order: entry written after the reply), the same window loses every connect', async () => {
    h = await makeSim({ latency: { connectMs: 0, deleteMs: 0 } }, RACE_TARGETS);
    const { rounds, con, dis } = await forced(h, 5, 'no-intents');
    for (const r of rounds) expect(r).toEqual({ device: r.device, skipped: [], deleted: [r.device] });
    expect(con).toMatchObject({ done: 5, lost: 5 });
    expect(dis).toMatchObject({ runs: 5, inProgressSkips: 0, deletedTarget: 5 });
  }, 180_000);

  it('free-running, with intents: 200 owned connects beside a disconnect-all loop are never torn down', async () => {
    // The sim keeps each new controller visible in sysfs (state "connecting", no entry yet)
    // for connectMs before the reply, so the loop meets controllers in every phase of a
    // connect. Which interleavings occur is up to the scheduler; the invariant holds for all.
    h = await makeSim({ latency: { connectMs: 4, deleteMs: 0 } }, RACE_TARGETS);
    const dis = start('disconnector.ts', [h.dir, 'loop']);
    expect(await dis.line()).toBe('ready');
    const con = await start('connector.ts', [h.dir, '200', 'intents']).finish();
    const d = await dis.finish();
    console.log('free-running:', JSON.stringify({ con, dis: d }));
    expect(con).toMatchObject({ done: 200, lost: 0 });
    expect(d.deletedTarget).toBe(0);
  }, 240_000);
});
