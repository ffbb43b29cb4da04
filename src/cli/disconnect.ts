import type { InUseFact } from '../engine/in-use.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { CliContext } from './context.js';
import { engineContext } from './engine-context.js';
import { EXIT } from './exit.js';

export interface DisconnectOptions {
  device?: string;
  nqn?: string;
  ignoreInUse?: boolean;
  yes?: boolean;
}

type DisconnectResult =
  { device: string; ok: true } | { device: string; ok: false; error: string; inUse?: readonly InUseFact[] };

export async function runDisconnect(ctx: CliContext, opts: DisconnectOptions): Promise<void> {
  if ((opts.device === undefined) === (opts.nqn === undefined)) {
    throw new NvmfError('EUSAGE', 'give exactly one of -d/--device nvmeN and -n/--nqn NQN', {});
  }
  const { checkDevice } = await import('../registry/names.js');
  const { disconnect, inUseOf } = await import('../engine/disconnect.js');
  const { describeInUse, inUseReason } = await import('../engine/in-use.js');
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
  const ignoreInUse = opts.ignoreInUse === true;
  if (ignoreInUse && !opts.yes) {
    // Ask before anything goes, showing why each in-use controller is in use (the controllers
    // of one subsystem are judged together: the last path of a mounted disk is in use).
    const why: string[] = [];
    for (const d of devices) {
      const others = devices.filter((x) => x !== d);
      // with -n the others go too: a fresh read of this one with them, judged as one plan
      const all = others.length === 0 ? await inUseOf(ectx, d) : await inUseTogether(ectx, d, others);
      if (all.length > 0) why.push(`${d}: ${all.map(describeInUse).join('; ')}`);
    }
    if (why.length > 0) {
      const ok = await ctx.confirmTyped(
        `In use:\n  ${why.join('\n  ')}\nDisconnecting loses access to these filesystems and swap; data not yet written is lost. Disconnect anyway?`,
        '--yes',
      );
      if (!ok)
        throw new NvmfError('EABORTED', 'aborted: confirmation not given; nothing was disconnected', {});
    }
  }
  const results: DisconnectResult[] = [];
  for (const device of devices) {
    try {
      await disconnect(ectx, device, { ignoreInUse });
      results.push({ device, ok: true });
    } catch (e) {
      const inUse = isNvmfError(e, 'EIN_USE') ? (e.details['inUse'] as InUseFact[]) : undefined;
      // one device: a refusal in use is still a result, so -o json carries the facts
      if (devices.length === 1 && inUse === undefined) throw e;
      results.push({
        device,
        ok: false,
        error:
          inUse !== undefined
            ? `refused, ${inUseReason(inUse)} (--ignore-in-use overrides)`
            : e instanceof Error
              ? e.message
              : String(e),
        ...(inUse !== undefined ? { inUse } : {}),
      });
    }
  }
  ctx.result({ results }, () =>
    results.map((r) => (r.ok ? `${r.device}: disconnected\n` : `${r.device}: FAILED: ${r.error}\n`)).join(''),
  );
  if (results.length === 1 && !results[0]?.ok) ctx.setExitCode(EXIT.ERROR);
  else if (results.some((r) => !r.ok)) ctx.setExitCode(EXIT.PARTIAL);
}

/** In-use facts of `device` when `others` go too (a fresh read of all of them). */
async function inUseTogether(
  ectx: Awaited<ReturnType<typeof engineContext>>,
  device: string,
  others: readonly string[],
): Promise<InUseFact[]> {
  const { inUseFacts } = await import('../engine/in-use.js');
  const snap = await ectx.kernel.hostSnapshot([device, ...others]);
  return inUseFacts(snap, device, new Set(others));
}
