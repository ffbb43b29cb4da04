import type { InUseFact } from '../engine/in-use.js';
import { isNvmfError, NvmfError } from '../errors.js';
import type { ControllerInfo } from '../kernel/port.js';
import type { DisconnectOptions } from './commands/disconnect.js';
import type { CliContext } from './context.js';
import { engineContext } from './engine-context.js';
import { EXIT } from './exit.js';
import { escapeText } from './output.js';

type Result =
  | { device: string; ok: true; excluded?: { file: string; added: boolean } | { error: string } }
  | { device: string; ok: false; error: string; inUse?: readonly InUseFact[] };

export async function runDisconnect(ctx: CliContext, opts: DisconnectOptions): Promise<void> {
  if ((opts.device === undefined) === (opts.nqn === undefined)) {
    throw new NvmfError('EUSAGE', 'give exactly one of -d/--device nvmeN and -n/--nqn NQN', {});
  }
  const { checkDevice } = await import('../registry/names.js');
  const { disconnect, inUseOf } = await import('../engine/disconnect.js');
  const { describeInUse, inUseReason } = await import('../engine/in-use.js');
  const ectx = await engineContext(ctx);
  let targets: ControllerInfo[];
  if (opts.device !== undefined) {
    const dev = checkDevice(opts.device.startsWith('/dev/') ? opts.device.slice(5) : opts.device);
    const c = await ectx.kernel.controller(dev);
    if (c === null)
      throw new NvmfError('ENO_CONTROLLER', `${dev} does not exist; see 'nvmf list'`, { device: dev });
    // a local (PCIe) controller is refused by the engine's disconnect, the one place that says so
    targets = [c];
  } else {
    // exactly one of device and nqn was given (checked above)
    targets = (await ectx.kernel.listControllers({ subsysnqn: opts.nqn! })).filter((c) => c.fabrics);
    if (targets.length === 0) {
      throw new NvmfError(
        'ENO_CONTROLLER',
        `no fabrics controller is connected to ${JSON.stringify(opts.nqn)}; see 'nvmf list'`,
        {
          nqn: opts.nqn,
        },
      );
    }
  }
  if (opts.ignoreBootCritical !== true)
    await confirmBootDevices(ctx, ectx.kernel, targets, opts.yes === true);
  const devices = targets.map((c) => c.device);
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
  const results: Result[] = [];
  for (const c of targets) {
    const device = c.device;
    try {
      await disconnect(ectx, device, { ignoreInUse });
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
      continue;
    }
    results.push(
      opts.exclude === true ? { device, ok: true, excluded: await exclude(ctx, c) } : { device, ok: true },
    );
  }
  ctx.result({ results }, () => results.map(resultText).join(''));
  if (results.length === 1 && !results[0]?.ok) ctx.setExitCode(EXIT.ERROR);
  else if (results.some((r) => !r.ok)) ctx.setExitCode(EXIT.PARTIAL);
}

function resultText(r: Result): string {
  if (!r.ok) return `${r.device}: FAILED: ${escapeText(r.error)}\n`;
  const x = r.excluded;
  if (x === undefined) return `${r.device}: disconnected\n`;
  if ('error' in x) return `${r.device}: disconnected; NOT excluded: ${escapeText(x.error)}\n`;
  return `${r.device}: disconnected; ${x.added ? 'excluded in' : 'already excluded in'} ${escapeText(x.file)}\n`;
}

/**
 * `--exclude`: the disconnected target goes into the default exclusion list. The disconnect
 * already happened, so a failure here is reported on that result (and exits 3), not thrown.
 */
async function exclude(
  ctx: CliContext,
  c: ControllerInfo,
): Promise<{ file: string; added: boolean } | { error: string }> {
  const { exclusionOfController } = await import('../exclusions/entry.js');
  const { addExclusion } = await import('../exclusions/files.js');
  const { etcRoot } = await import('../host-identity.js');
  const entry = exclusionOfController(c);
  if (entry === null) {
    ctx.setExitCode(EXIT.PARTIAL);
    return { error: `its address (${c.rawAddress}) makes no valid exclusion entry` };
  }
  try {
    return await addExclusion(etcRoot(ctx.env), null, entry);
  } catch (e) {
    ctx.setExitCode(EXIT.PARTIAL);
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * A boot device (a controller serving an NBFT subsystem entry, DESIGN §5) is disconnected
 * only after a typed `yes` (or `--yes`), with the reason shown first; without a terminal and
 * without --yes the command refuses and nothing is disconnected. An unreadable NBFT table
 * makes every fabrics controller a possible boot device (fail safe).
 */
async function confirmBootDevices(
  ctx: CliContext,
  kernel: import('../kernel/port.js').Kernel,
  targets: readonly ControllerInfo[],
  yes: boolean,
): Promise<void> {
  const { readBootFacts } = await import('../engine/disconnect.js');
  const { bootVerdict, BOOT_REASON, unreadableReason } = await import('../engine/boot-critical.js');
  const { bootEntryText } = await import('../nbft/boot.js');
  const facts = await readBootFacts(kernel);
  const why: string[] = [];
  for (const c of targets) {
    const v = bootVerdict(facts, c);
    if (v === null) continue;
    if (v.kind === 'boot')
      for (const e of v.entries)
        why.push(
          `${c.device}: ${BOOT_REASON}: serves ${e.table} subsystem entry ${e.index} (${bootEntryText(e)})`,
        );
    else why.push(`${c.device}: ${unreadableReason(v.errors)}`);
  }
  if (why.length === 0) return;
  ctx.note(`${why.join('\n')}\nDisconnecting a boot device can take the root filesystem away.`, true);
  if (yes) return;
  const n = new Set(why.map((w) => w.split(':')[0])).size;
  const ok = await ctx.confirmTyped(
    `Disconnect ${n === 1 ? 'this boot device' : `these ${n} boot devices`}?`,
    '--yes',
  );
  if (!ok) throw new NvmfError('EABORTED', 'aborted: confirmation not given; nothing was disconnected', {});
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
