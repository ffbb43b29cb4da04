import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RACE_TARGETS } from './race/target.js';
import { makeSim, type SimHost } from './sim-helpers.js';

/**
 * DESIGN §4.2 with separate processes on one simulated host: a connector that connects with
 * an owner, and a plain disconnect-all looping beside it. The sim keeps each new controller
 * visible in sysfs (state "connecting", no entry yet) for CONNECT_MS before the reply, so
 * disconnect-all sees owned-to-be controllers without their entry all the time.
 */
const CONNECT_MS = 4;
const here = path.dirname(new URL(import.meta.url).pathname);

function run(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'race', script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${script} exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() as string));
    });
  });
}

async function race(h: SimHost, iterations: number, mode: 'intents' | 'no-intents') {
  const stop = path.join(h.dir, 'stop');
  const dis = run('disconnector.ts', [h.dir, stop]);
  // let the disconnect-all loop start before connecting
  await new Promise((r) => setTimeout(r, 800));
  try {
    const con = await run('connector.ts', [h.dir, String(iterations), mode]);
    fs.writeFileSync(stop, '');
    return { con, dis: await dis };
  } catch (e) {
    fs.writeFileSync(stop, '');
    await dis.catch(() => {});
    throw e;
  }
}

let h: SimHost | undefined;
afterEach(() => h?.close());

describe('connect versus disconnect-all (separate processes)', () => {
  it('with connect intents, 500 owned connects are never torn down', async () => {
    h = await makeSim({ latency: { connectMs: CONNECT_MS, deleteMs: 0 } }, RACE_TARGETS);
    const { con, dis } = await race(h, 500, 'intents');
    console.log('intents:', JSON.stringify({ con, dis }));
    expect(con.done).toBe(500);
    expect(con.lost).toBe(0);
    expect(dis.deletedTarget).toBe(0);
    // the bad interleaving did happen: disconnect-all saw controllers mid-connect and skipped them
    expect(dis.inProgressSkips as number).toBeGreaterThan(0);
  }, 120_000);

  it('without intents (upstream order: entry written after the reply), disconnect-all loses connects', async () => {
    // a wider window than above, so the loss shows within few iterations
    h = await makeSim({ latency: { connectMs: 15, deleteMs: 0 } }, RACE_TARGETS);
    const { con, dis } = await race(h, 100, 'no-intents');
    console.log('no intents:', JSON.stringify({ con, dis }));
    expect(con.lost as number).toBeGreaterThan(0);
    expect(dis.deletedTarget as number).toBeGreaterThan(0);
  }, 120_000);
});
