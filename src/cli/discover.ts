import type {
  ConnectAllItem,
  ConnectAllResult,
  DiscoveredEntry,
  DiscoverResult,
} from '../engine/discover.js';
import type { ConnectResult } from '../engine/connect.js';
import type { ExclusionTarget } from '../exclusions/entry.js';
import type { ControllerInfo } from '../kernel/port.js';
import { connectInputOf, DISCOVERY_OPTIONS, withFlagName, withHostDefaults } from './connect-options.js';
import type { CliContext } from './context.js';
import { engineContext, engineOwner } from './engine-context.js';
import { EXIT } from './exit.js';
import { escapeText, fitLead, renderTable } from './output.js';
import type { ConnectOperation } from './plugin.js';

function entryJson(e: DiscoveredEntry): Record<string, unknown> {
  return {
    kind: e.kind,
    transport: e.transport,
    traddr: e.traddr,
    trsvcid: e.trsvcid,
    subnqn: e.subnqn,
    portid: e.portid,
    cntlid: e.cntlid,
    source: e.source,
  };
}

function renderDiscovery(d: DiscoverResult): string {
  // Source: the discovery controller whose log listed the entry (a referral's own entries
  // name the referral), so an entry listed by two controllers reads as two rows from two sources.
  return (
    renderTable(
      ['Kind', 'Transport', 'Address', 'Port', 'Subsystem', 'Source'],
      d.entries.map((e) => [e.kind, e.transport ?? '?', e.traddr, e.trsvcid, e.subnqn, e.source]),
    ) + renderSkips(d.skipped, d.failures)
  );
}

/** The discovery controllers not read, and why, one line each. */
function renderSkips(skipped: DiscoverResult['skipped'], failures: DiscoverResult['failures']): string {
  let out = '';
  for (const s of skipped) out += `skipped ${escapeText(s.source)}: ${escapeText(s.reason)}\n`;
  for (const f of failures) out += `failed ${escapeText(f.source)}: ${escapeText(f.reason)}\n`;
  return out;
}

async function prepare(ctx: CliContext, command: 'discover' | 'connect-all', opts: Record<string, unknown>) {
  const { parseConnectOptions, DISCOVERY_NQN } = await import('../engine/options.js');
  const input = withHostDefaults(connectInputOf(opts, DISCOVERY_OPTIONS), ctx.env);
  try {
    parseConnectOptions({ nqn: DISCOVERY_NQN, ...input });
  } catch (e) {
    throw withFlagName(e);
  }
  const op: ConnectOperation = { command, cliOptions: opts, owner: undefined };
  await ctx.plugins.beforeConnect(op, ctx);
  const vetoController = pluginVeto(ctx, op);
  return { input, op, vetoController, excluded: await exclusionCheck(ctx), ectx: await engineContext(ctx) };
}

/** The plugins' discovery-controller check, run by the engine on every controller it would use. */
export function pluginVeto(
  ctx: CliContext,
  op: ConnectOperation,
): (c: ControllerInfo, owner: string | null) => Promise<string | null> {
  return async (c, owner) =>
    (await ctx.plugins.checkDiscoveryController(
      {
        device: c.device,
        transport: c.transport,
        ...(c.address.traddr !== undefined ? { traddr: c.address.traddr } : {}),
        ...(c.address.trsvcid !== undefined ? { trsvcid: c.address.trsvcid } : {}),
        owner,
      },
      op,
      ctx,
    )) ?? null;
}

/**
 * The exclusion lists (docs/exclusions.md), read once for the command: a check returning the
 * reason a target is excluded (naming the file, line and entry), or null. Lines the lists
 * skip are warned about on stderr; they exclude nothing.
 */
export async function exclusionCheck(ctx: CliContext): Promise<(t: ExclusionTarget) => string | null> {
  const { readExclusions, findExclusion } = await import('../exclusions/files.js');
  const { etcRoot } = await import('../host-identity.js');
  const ex = await readExclusions({ etc: etcRoot(ctx.env) });
  for (const p of ex.problems)
    ctx.note(`warning: exclusion list ${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}`, true);
  return (t) => {
    const r = findExclusion(ex, t);
    return r === null ? null : `excluded by ${r.file}:${r.line} (${r.text})`;
  };
}

export async function runDiscover(ctx: CliContext, opts: Record<string, unknown>): Promise<void> {
  const { discover } = await import('../engine/discover.js');
  const { input, op, vetoController, excluded, ectx } = await prepare(ctx, 'discover', opts);
  let d: DiscoverResult;
  try {
    d = await discover(ectx, input, { owner: engineOwner(op.owner) ?? null, vetoController, excluded });
  } catch (e) {
    throw withFlagName(e);
  }
  ctx.result({ entries: d.entries.map(entryJson), skipped: d.skipped, failures: d.failures }, () =>
    renderDiscovery(d),
  );
}

/** One line per connected, failed or excluded subsystem. */
export function connectAllText(r: {
  results: ConnectAllItem[];
  excluded: ConnectAllResult['excluded'];
}): string {
  let out = '';
  for (const i of r.results) {
    const rest = i.ok
      ? `: ${i.result.device}${i.result.reused ? ' (reused)' : ''}${i.result.owner ? `, owner ${escapeText(i.result.owner)}` : ''}`
      : `: FAILED: ${escapeText(i.error)}`;
    out += `${fitLead(i.target.subnqn, rest.length)}${rest}\n`;
  }
  for (const x of r.excluded) {
    const rest = `: skipped (${x.target.transport} ${x.target.traddr}:${x.target.trsvcid}): ${escapeText(x.reason)}`;
    out += `${fitLead(x.target.subnqn, rest.length)}${rest}\n`;
  }
  return out;
}

/** One connect result as JSON: connect-all's item, and (with its entry) connect-all --nbft's. */
export function itemJson(
  i: { target: unknown } & ({ ok: true; result: ConnectResult } | { ok: false; error: string }),
): Record<string, unknown> {
  return i.ok
    ? {
        target: i.target,
        ok: true,
        device: i.result.device,
        owner: i.result.owner,
        reused: i.result.reused,
        namespaces: i.result.namespaces,
      }
    : { target: i.target, ok: false, error: i.error };
}

export async function runConnectAll(ctx: CliContext, opts: Record<string, unknown>): Promise<void> {
  if (opts['nbft'] === true) {
    const { runConnectNbft } = await import('./connect-nbft.js');
    await runConnectNbft(ctx, opts);
    return;
  }
  const { connectAll } = await import('../engine/discover.js');
  const { input, op, vetoController, excluded, ectx } = await prepare(ctx, 'connect-all', opts);
  const owner = engineOwner(op.owner);
  let r: Awaited<ReturnType<typeof connectAll>>;
  try {
    r = await connectAll(ectx, input, {
      ...(owner !== undefined ? { owner } : {}),
      force: opts['force'] === true,
      wait: opts['wait'] === true,
      vetoController,
      excluded,
    });
  } catch (e) {
    throw withFlagName(e);
  }
  for (const i of r.results) {
    if (i.ok)
      await ctx.plugins.afterConnect(
        op,
        { device: i.result.device, owner: i.result.owner, reused: i.result.reused },
        ctx,
      );
  }
  ctx.result(
    {
      results: r.results.map(itemJson),
      excluded: r.excluded,
      skipped: r.discovery.skipped,
      failures: r.discovery.failures,
    },
    () => {
      let out = connectAllText(r);
      out += renderSkips(r.discovery.skipped, r.discovery.failures);
      return out === '' ? 'nothing to connect\n' : out;
    },
  );
  if (r.results.some((i) => !i.ok)) ctx.setExitCode(EXIT.PARTIAL);
}
