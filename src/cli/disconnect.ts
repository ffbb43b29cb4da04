import { NvmfError } from '../errors.js';
import type { CliContext } from './context.js';
import { engineContext } from './engine-context.js';
import { EXIT } from './exit.js';
import { escapeText } from './output.js';

export async function runDisconnect(ctx: CliContext, opts: { device?: string; nqn?: string }): Promise<void> {
  if ((opts.device === undefined) === (opts.nqn === undefined)) {
    throw new NvmfError('EUSAGE', 'give exactly one of -d/--device nvmeN and -n/--nqn NQN', {});
  }
  const { checkDevice } = await import('../registry/names.js');
  const { disconnect } = await import('../engine/disconnect.js');
  const ectx = await engineContext(ctx);
  let devices: string[];
  if (opts.device !== undefined) {
    const dev = checkDevice(opts.device.startsWith('/dev/') ? opts.device.slice(5) : opts.device);
    const c = await ectx.kernel.controller(dev);
    if (c === null)
      throw new NvmfError('ENO_CONTROLLER', `${dev} does not exist; see 'nvmf list'`, { device: dev });
    // a local (PCIe) controller is refused by the engine's disconnect, the one place that says so
    devices = [dev];
  } else {
    const all = await ectx.kernel.listControllers();
    devices = all.filter((c) => c.fabrics && c.subsysnqn === opts.nqn).map((c) => c.device);
    if (devices.length === 0) {
      throw new NvmfError(
        'ENO_CONTROLLER',
        `no fabrics controller is connected to ${JSON.stringify(opts.nqn)}; see 'nvmf list'`,
        {
          nqn: opts.nqn,
        },
      );
    }
  }
  const results: ({ device: string; ok: true } | { device: string; ok: false; error: string })[] = [];
  for (const device of devices) {
    try {
      await disconnect(ectx, device);
      results.push({ device, ok: true });
    } catch (e) {
      if (devices.length === 1) throw e;
      results.push({ device, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  ctx.result({ results }, () =>
    results
      .map((r) => (r.ok ? `${r.device}: disconnected\n` : `${r.device}: FAILED: ${escapeText(r.error)}\n`))
      .join(''),
  );
  if (results.some((r) => !r.ok)) ctx.setExitCode(EXIT.PARTIAL);
}
