/**
 * Race worker: connects with an owner over and over, then deletes its own controller.
 * A controller that vanishes under it (or a connect cancelled because its controller was
 * deleted while connecting) is a loss: something tore down a controller being connected.
 *   node --import tsx connector.ts SIMDIR ITERATIONS intents|no-intents
 */
import { connect } from '../../../src/engine/connect.js';
import { buildOptionString, parseConnectOptions } from '../../../src/engine/options.js';
import { isNvmfError } from '../../../src/errors.js';
import { openSim } from '../sim-helpers.js';
import { RACE_OWNER, RACE_TARGET } from './target.js';

const [dir, n, mode] = process.argv.slice(2) as [string, string, string];
const h = openSim(dir);
const lossReasons: string[] = [];
let lost = 0;
let done = 0;

for (let i = 0; i < Number(n); i++) {
  let device: string;
  try {
    if (mode === 'intents') {
      device = (await connect(h.ctx, RACE_TARGET, { owner: RACE_OWNER })).device;
    } else {
      // upstream's order: no intent; the entry is written right after the reply, as ours is
      const opts = buildOptionString(parseConnectOptions(RACE_TARGET), null).value;
      const reply = await h.kernel.connect(opts);
      device = `nvme${reply.instance}`;
      h.registry.create(device, { owner: RACE_OWNER, seqnum: h.kernel.ueventSeqnum() });
    }
  } catch (e) {
    if (isNvmfError(e, 'EKERNEL') && e.details.errno === 'ECANCELED') {
      lost++;
      lossReasons.push(`connect ${i}: cancelled, controller deleted while connecting`);
      continue;
    }
    throw e;
  }
  try {
    await h.kernel.deleteController(device);
  } catch (e) {
    if (!isNvmfError(e, 'ENO_CONTROLLER')) throw e;
    lost++;
    lossReasons.push(`connect ${i}: ${device} deleted by someone else after connect`);
  }
  done++;
}
h.kernel.close();
process.stdout.write(`${JSON.stringify({ done, lost, lossReasons: lossReasons.slice(0, 5) })}\n`);
