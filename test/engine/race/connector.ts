/**
 * Race worker: connects with an owner over and over, then deletes its own controller.
 * A controller that vanishes under it (or a connect cancelled because its controller was
 * deleted while connecting) is a loss: something tore down a controller being connected.
 *   node --import tsx connector.ts SIMDIR ITERATIONS intents|no-intents [paused]
 * `paused` stalls every connect right after the kernel's reply, before the caller sees it
 * (the controller is live, its entry not written yet): the worker prints `paused nvmeN` and
 * goes on only when a line arrives on stdin. Another process can act inside that window on
 * every iteration instead of by chance. The result is the last stdout line, as JSON.
 */
import readline from 'node:readline';
import { connect } from '../../../src/engine/connect.js';
import { buildOptionString, parseConnectOptions } from '../../../src/engine/options.js';
import { isNvmfError } from '../../../src/errors.js';
import type { ConnectReply, Kernel } from '../../../src/kernel/port.js';
import { openSim } from '../sim-helpers.js';
import { RACE_OWNER, RACE_TARGET } from './target.js';

const [dir, n, mode, pause] = process.argv.slice(2) as [string, string, string, string | undefined];
const h = openSim(dir);
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function stalledConnect(options: string): Promise<ConnectReply> {
  const reply = await h.kernel.connect(options);
  process.stdout.write(`paused nvme${reply.instance}\n`);
  if ((await input.next()).done) throw new Error('stdin closed while paused');
  return reply;
}

// Every other kernel call goes to the sim unchanged.
const kernel: Kernel =
  pause === 'paused'
    ? new Proxy(h.kernel, {
        get(t, p) {
          if (p === 'connect') return stalledConnect;
          const v: unknown = Reflect.get(t, p, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      })
    : h.kernel;
const ctx = { ...h.ctx, kernel };

const lossReasons: string[] = [];
let lost = 0;
let done = 0;

for (let i = 0; i < Number(n); i++) {
  let device: string;
  try {
    if (mode === 'intents') {
      device = (await connect(ctx, RACE_TARGET, { owner: RACE_OWNER })).device;
    } else {
      // upstream's order: no intent; the entry is written right after the reply, as ours is
      const opts = buildOptionString(parseConnectOptions(RACE_TARGET), null).value;
      const reply = await kernel.connect(opts);
      device = `nvme${reply.instance}`;
      h.registry.create(device, { owner: RACE_OWNER, seqnum: kernel.ueventSeqnum() });
    }
  } catch (e) {
    if (isNvmfError(e, 'EKERNEL') && e.details.errno === 'ECANCELED') {
      lost++;
      lossReasons.push(`connect ${i}: cancelled, controller deleted while connecting`);
      done++;
      continue;
    }
    throw e;
  }
  try {
    await kernel.deleteController(device);
  } catch (e) {
    if (!isNvmfError(e, 'ENO_CONTROLLER')) throw e;
    lost++;
    lossReasons.push(`connect ${i}: ${device} deleted by someone else after connect`);
  }
  // The entry goes with its controller, as the udev rule's remove run does on a real host
  // (the sim's udev is manual here). Left behind, it would make the next controller on the
  // recycled instance look owned before its own entry is written.
  h.registry.delete(device);
  done++;
}
h.kernel.close();
process.stdout.write(`${JSON.stringify({ done, lost, lossReasons: lossReasons.slice(0, 5) })}\n`);
process.exit(0);
