/**
 * `npm run torture [-- --minutes N] [-- --only NAME[,NAME]]`: the project's long adversarial
 * runs (DESIGN §4). Each part gets an equal share of the time, prints its counts and
 * violations, and the run exits 1 when any part saw a violation (or failed to run).
 */
import { parseArgs } from 'node:util';
import type { Part, PartResult } from './part.js';
import { connectVsDisconnectAll } from './parts/connect-vs-disconnect-all.js';
import { kills } from './parts/kills.js';
import { linearizability } from './parts/linearizability.js';
import { recycle } from './parts/recycle.js';
import { replace } from './parts/replace.js';
import { takeover } from './parts/takeover.js';

const ALL: Part[] = [recycle, kills, linearizability, takeover, replace, connectVsDisconnectAll];

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '1' }, only: { type: 'string' } },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`torture: --minutes must be a positive number, got "${values.minutes}"`);
  process.exit(2);
}
const names = values.only?.split(',');
const unknown = names?.filter((n) => !ALL.some((p) => p.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`torture: unknown part ${unknown.join(', ')}; parts: ${ALL.map((p) => p.name).join(', ')}`);
  process.exit(2);
}
const parts = names ? ALL.filter((p) => names.includes(p.name)) : ALL;
const share = (minutes * 60_000) / parts.length;

let failed = 0;
const summary: Record<string, PartResult> = {};
for (const p of parts) {
  const started = Date.now();
  console.log(`== torture ${p.name} (${(share / 1000).toFixed(0)} s): ${p.about}`);
  let r: PartResult;
  try {
    r = await p.run(started + share, (line) => console.log(`   ${p.name}: ${line}`));
  } catch (e) {
    r = { counts: {}, violations: [`the part failed to run: ${(e as Error).stack ?? String(e)}`] };
  }
  summary[p.name] = r;
  const counts = Object.entries(r.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `   ${p.name}: ${counts}; violations ${r.violations.length} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  for (const v of r.violations) console.log(`   ${p.name}: VIOLATION ${v}`);
  if (r.violations.length > 0) failed++;
}
console.log(`torture-summary ${JSON.stringify(summary)}`);
console.log(
  failed === 0
    ? `torture: ${parts.length} parts, 0 violations`
    : `torture: ${failed} of ${parts.length} parts with violations`,
);
process.exit(failed === 0 ? 0 : 1);
