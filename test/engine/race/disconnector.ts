/**
 * Race worker: a plain disconnect-all (no owner, no force) on the simulated host.
 *   node --import tsx disconnector.ts SIMDIR loop|on-demand
 * `loop`: runs back to back until stdin ends; prints `ready` after the first run.
 * `on-demand`: runs once per stdin line and answers each with that run's JSON line.
 * Both end with the totals as the last stdout line (JSON): how often it saw the race
 * target's controller before its entry ("connect in progress" skips: the bad interleaving
 * happened) and how often it deleted it (the bug).
 */
import readline from 'node:readline';
import { disconnectAll } from '../../../src/engine/disconnect.js';
import { openSim } from '../sim-helpers.js';
import { RACE_NQN } from './target.js';

const [dir, mode] = process.argv.slice(2) as [string, string];
const h = openSim(dir);
let runs = 0;
let inProgressSkips = 0;
let deletedTarget = 0;

/** One disconnect-all; the race target's controllers it skipped as in progress and deleted. */
async function once(): Promise<{ skipped: string[]; deleted: string[] }> {
  const { plan, results } = await disconnectAll(h.ctx, {});
  runs++;
  const skipped: string[] = [];
  const deleted: string[] = [];
  for (const item of plan) {
    if (item.controller.subsysnqn !== RACE_NQN) continue;
    if (item.action === 'skip' && item.reason.includes('connect in progress')) skipped.push(item.device);
    if (results?.some((r) => r.device === item.device && r.ok)) deleted.push(item.device);
  }
  inProgressSkips += skipped.length;
  deletedTarget += deleted.length;
  h.events.length = 0;
  return { skipped, deleted };
}

const lines = readline.createInterface({ input: process.stdin });
if (mode === 'on-demand') {
  for await (const _ of lines) process.stdout.write(`${JSON.stringify(await once())}\n`);
} else {
  let stop = false;
  lines.on('close', () => (stop = true));
  await once();
  process.stdout.write('ready\n');
  while (!stop) {
    await once();
    // yield the core now and then: on 2 shared cores a hot loop would starve the connector
    await new Promise((r) => setTimeout(r, 1));
  }
}
h.kernel.close();
process.stdout.write(`${JSON.stringify({ runs, inProgressSkips, deletedTarget })}\n`);
process.exit(0);
