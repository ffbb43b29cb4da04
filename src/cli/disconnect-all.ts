import type { DisconnectAllResult } from '../engine/disconnect.js';
import { TRANSPORTS } from '../engine/options.js';
import { checkPolicy, type DisconnectAllPolicy, type PlanItemView } from '../engine/plan.js';
import { NvmfError } from '../errors.js';
import type { DisconnectAllOptions } from './commands/disconnect-all.js';
import type { CliContext } from './context.js';
import { EXIT } from './exit.js';
import { escapeText, renderTable } from './output.js';

/** Flags to a policy, rejecting contradictions and bad values before anything is read. */
export function disconnectAllRequest(opts: DisconnectAllOptions): DisconnectAllPolicy {
  const req: DisconnectAllPolicy = {
    force: opts.force === true,
    ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
    ...(opts.transport !== undefined && opts.transport.length > 0 ? { transports: opts.transport } : {}),
    ...(opts.ignoreBootCritical === true ? { ignoreBootCritical: true } : {}),
    ...(opts.ignoreInUse === true ? { ignoreInUse: true } : {}),
  };
  // the library owns the rule (--owner with --force, owner grammar)
  checkPolicy(req);
  for (const t of req.transports ?? []) {
    if (!(TRANSPORTS as readonly string[]).includes(t)) {
      throw new NvmfError(
        'EUSAGE',
        `-t/--transport "${t}" is not a fabrics transport; use one of ${TRANSPORTS.join(', ')}`,
        {
          transport: t,
        },
      );
    }
  }
  return req;
}

export function renderPlan(items: readonly PlanItemView[]): string {
  if (items.length === 0) return 'no NVMe controllers\n';
  return renderTable(
    ['Device', 'Transport', 'Owner', 'Action', 'Reason'],
    items.map((i) => [i.device, i.transport, i.owner ?? '-', i.action, i.reason]),
  );
}

/**
 * `--owner X` where no controller is owned by X: said on stderr (JSON output too), with the
 * owners that do have controllers, so a mistyped owner does not pass for "nothing left".
 * The exit code stays 0: an orchestrator's teardown (`--owner me --yes`) legitimately finds
 * nothing of its own left, and must not fail for that.
 */
function noteUnknownOwner(ctx: CliContext, owner: string, items: readonly PlanItemView[]): void {
  if (items.some((i) => i.owner === owner)) return;
  const owners = [
    ...new Set(items.map((i) => i.owner).filter((o): o is string => typeof o === 'string')),
  ].sort();
  const known =
    owners.length === 0
      ? 'no controller has an owner'
      : `owners with controllers: ${owners.map(escapeText).join(', ')}`;
  ctx.note(`no controller is owned by "${escapeText(owner)}"; ${known}`, true);
}

export function renderResults(results: readonly DisconnectAllResult[]): string {
  return results
    .map((r) => (r.ok ? `${r.device}: disconnected\n` : `${r.device}: FAILED: ${escapeText(r.error)}\n`))
    .join('');
}

export async function runDisconnectAll(ctx: CliContext, opts: DisconnectAllOptions): Promise<void> {
  const req = disconnectAllRequest(opts);
  const registry = await ctx.plugins.disconnectAllRegistry(ctx);
  if (registry === undefined && req.force !== true) {
    throw new NvmfError(
      'EABORTED',
      'disconnect-all refuses to run: the registry plugin is disabled (NVMF_PLUGINS or the config file), so nothing tells a boot-critical controller from a throwaway one. Enable the plugin, or pass --force to disconnect every fabrics controller',
      {},
    );
  }
  const { kernel } = await ctx.kernel();
  const host = registry === undefined ? { kernel } : { kernel, registry };
  // The library's one route: plan from a snapshot, then execute (engine/disconnect.ts).
  const { planFromHost, executeDisconnectAll } = await import('../engine/disconnect.js');
  const { planItemView } = await import('../engine/plan.js');
  const plan = await planFromHost(host, req);
  const items = plan.map(planItemView);
  const json = ctx.format() === 'json';
  const chosen = items.filter((i) => i.action === 'disconnect');

  if (!json) ctx.stdout.write(renderPlan(items));
  if (req.owner !== undefined) noteUnknownOwner(ctx, req.owner, items);
  if (opts.dryRun || chosen.length === 0) {
    if (json) ctx.result({ plan: items }, () => '');
    else if (chosen.length === 0) ctx.note('nothing to disconnect');
    return;
  }
  if (!opts.yes) {
    // with -o json the plan has not been shown yet; the operator sees it on the terminal asked
    const shown = json ? renderPlan(items) : '';
    const n = chosen.length;
    const ok = await ctx.confirmTyped(
      `${shown}Disconnect ${n} controller${n === 1 ? '' : 's'} (${chosen.map((c) => c.device).join(', ')})?`,
      '--yes',
    );
    if (!ok) throw new NvmfError('EABORTED', 'aborted: confirmation not given; nothing was disconnected', {});
  }
  const audit = await ctx.auditor();
  const done = await executeDisconnectAll(plan, {
    ...host,
    audit,
    force: req.force === true,
    ignoreInUse: req.ignoreInUse === true,
  });
  const results = done.results;
  ctx.result({ plan: done.plan.map(planItemView), results }, () => renderResults(results));
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) {
    ctx.note(`${failed} of ${results.length} disconnects failed`, false);
    ctx.setExitCode(EXIT.PARTIAL);
  }
}
