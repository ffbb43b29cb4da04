/**
 * Race worker: one connect of RACE_TARGET with an owner, stalled right after the kernel's
 * reply (the controller exists, the connect intent is live, no entry yet): prints
 * `paused nvmeN` and goes on when a line arrives on stdin. Mode `ok` lets the connect finish;
 * mode `fail` makes it fail there (the controller is deleted again, as after a failed
 * fabrics connect). The result is the last stdout line, as JSON.
 *   node --import tsx paused-connect.ts SIMDIR OWNER ok|fail
 */
import readline from 'node:readline';
import { connect } from '../../../src/engine/connect.js';
import { NvmfError } from '../../../src/errors.js';
import type { ConnectReply, Kernel } from '../../../src/kernel/port.js';
import { openSim } from '../sim-helpers.js';
import { RACE_TARGET } from './target.js';

const [dir, owner, mode] = process.argv.slice(2) as [string, string, string];
const h = openSim(dir);
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function stalledConnect(options: string): Promise<ConnectReply> {
  const reply = await h.kernel.connect(options);
  process.stdout.write(`paused nvme${reply.instance}\n`);
  if ((await input.next()).done) throw new Error('stdin closed while paused');
  if (mode === 'fail') {
    await h.kernel.deleteController(`nvme${reply.instance}`);
    throw new NvmfError('EKERNEL', 'connect failed (forced by the test)', { errno: 'EIO' });
  }
  return reply;
}

const kernel: Kernel = new Proxy(h.kernel, {
  get(t, p) {
    if (p === 'connect') return stalledConnect;
    const v: unknown = Reflect.get(t, p, t);
    return typeof v === 'function' ? v.bind(t) : v;
  },
});

try {
  const r = await connect({ ...h.ctx, kernel }, RACE_TARGET, { owner });
  process.stdout.write(`${JSON.stringify({ ok: true, device: r.device, owner: r.owner })}\n`);
} catch (e) {
  process.stdout.write(
    `${JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) })}\n`,
  );
}
h.kernel.close();
// stdin's reader would keep the process alive
process.exit(0);
