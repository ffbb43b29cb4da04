/**
 * Race worker: runs a plain disconnect-all in a loop until STOPFILE exists. Counts how
 * often it saw the race target's controller before its entry ("connect in progress" skips:
 * the bad interleaving happened) and how often it deleted it (the bug).
 *   node --import tsx disconnector.ts SIMDIR STOPFILE
 */
import fs from 'node:fs';
import { disconnectAll } from '../../../src/engine/disconnect.js';
import { plannedController } from '../../../src/engine/plan.js';
import { openSim } from '../sim-helpers.js';
import { RACE_NQN } from './target.js';

const [dir, stop] = process.argv.slice(2) as [string, string];
const h = openSim(dir);
let runs = 0;
let inProgressSkips = 0;
let deletedTarget = 0;
while (!fs.existsSync(stop)) {
  const { plan, results } = await disconnectAll(h.ctx, {});
  runs++;
  for (const item of plan) {
    if (plannedController(item)?.subsysnqn !== RACE_NQN) continue;
    if (item.action === 'skip' && item.reason.includes('connect in progress')) inProgressSkips++;
    if (results?.some((r) => r.device === item.device && r.ok)) deletedTarget++;
  }
  h.events.length = 0;
  // yield the core now and then: on 2 shared cores a hot loop would starve the connector
  await new Promise((r) => setTimeout(r, 1));
}
h.kernel.close();
process.stdout.write(`${JSON.stringify({ runs, inProgressSkips, deletedTarget })}\n`);
