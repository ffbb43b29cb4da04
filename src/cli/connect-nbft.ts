import type { NbftConnectItem, NbftConnectResult } from '../engine/nbft-connect.js';
import { NvmfError } from '../errors.js';
import { connectInputOf, DISCOVERY_OPTIONS, flagOf, withFlagName } from './connect-options.js';
import type { CliContext } from './context.js';
import { connectAllText, exclusionCheck, itemJson, pluginVeto } from './discover.js';
import { engineContext, engineOwner } from './engine-context.js';
import { EXIT } from './exit.js';
import type { ConnectOperation } from './plugin.js';

/** What the table gives: the command line must not name it too. */
const FROM_TABLE = ['transport', 'traddr', 'trsvcid', 'hostnqn', 'hostid'] as const;

function nbftItemJson(i: NbftConnectItem): Record<string, unknown> {
  // connect-all's result item, led by the table entry it came from
  return { entry: i.entry, ...itemJson(i) };
}

function render(r: NbftConnectResult): string {
  let out = '';
  for (const t of r.tableErrors) out += `${t.table}: FAILED: ${t.message}\n`;
  for (const i of r.results) {
    const at = `${i.entry.table} SSNS ${i.entry.index} ${i.target.subnqn}`;
    out += i.ok
      ? `${at}: ${i.result.device}${i.result.reused ? ' (reused)' : ''}${i.result.owner ? `, owner ${i.result.owner}` : ''}\n`
      : `${at}: FAILED: ${i.error}\n`;
  }
  for (const x of r.excluded)
    out += `${x.entry.table} SSNS ${x.entry.index} ${x.target.subnqn}: skipped: ${x.reason}\n`;
  for (const d of r.discovery) {
    const at = `${d.table} discovery ${d.index} ${d.uri ?? '-'}`;
    if (d.excluded !== undefined) out += `${at}: skipped: ${d.excluded}\n`;
    else if (d.error !== null) out += `${at}: FAILED: ${d.error}\n`;
    else if (d.result !== null) {
      out += connectAllText(d.result).replace(/^/gm, `${at}: `);
      for (const s of d.result.discovery.skipped) out += `${at}: skipped ${s.source}: ${s.reason}\n`;
      for (const f of d.result.discovery.failures) out += `${at}: failed ${f.source}: ${f.reason}\n`;
    }
  }
  return out === '' ? 'nothing to connect: no NBFT table describes a subsystem\n' : out;
}

/**
 * `connect-all --nbft`: connect the subsystems of the firmware's NBFT tables, with the host
 * identity the tables give, owner `nbft` unless --owner (the registry plugin's rule). The
 * tuning options apply to every connect; the target and host identity come from the tables.
 */
export async function runConnectNbft(ctx: CliContext, opts: Record<string, unknown>): Promise<void> {
  const input = connectInputOf(opts, DISCOVERY_OPTIONS);
  const named = FROM_TABLE.filter((k) => input[k] !== undefined);
  if (named.length > 0) {
    throw new NvmfError(
      'EUSAGE',
      `connect-all --nbft takes the targets and the host identity from the firmware's NBFT table; drop ${named.map((k) => flagOf(k) ?? k).join(', ')}`,
      {},
    );
  }
  const op: ConnectOperation = { command: 'connect-all', cliOptions: opts, owner: undefined };
  await ctx.plugins.beforeConnect(op, ctx);
  const vetoController = pluginVeto(ctx, op);
  const excluded = await exclusionCheck(ctx);
  const ectx = await engineContext(ctx);
  const owner = engineOwner(op.owner);
  const { connectNbft, nbftConnectFailed } = await import('../engine/nbft-connect.js');
  let r: NbftConnectResult;
  try {
    r = await connectNbft(ectx, {
      ...(owner !== undefined ? { owner } : {}),
      force: opts['force'] === true,
      wait: opts['wait'] === true,
      vetoController,
      excluded,
      connectOptions: input,
    });
  } catch (e) {
    throw withFlagName(e);
  }
  const connected = [...r.results, ...r.discovery.flatMap((d) => d.result?.results ?? [])].filter(
    (i) => i.ok,
  );
  for (const i of connected)
    await ctx.plugins.afterConnect(
      op,
      { device: i.result.device, owner: i.result.owner, reused: i.result.reused },
      ctx,
    );
  ctx.result(
    {
      tables: r.tableErrors,
      results: r.results.map(nbftItemJson),
      excluded: r.excluded,
      discovery: r.discovery.map((d) => ({
        table: d.table,
        index: d.index,
        uri: d.uri,
        error: d.error,
        ...(d.excluded !== undefined ? { excluded: d.excluded } : {}),
        ...(d.result !== null
          ? {
              results: d.result.results.map(itemJson),
              excluded: d.result.excluded,
              skipped: d.result.discovery.skipped,
              failures: d.result.discovery.failures,
            }
          : {}),
      })),
    },
    () => render(r),
  );
  if (nbftConnectFailed(r)) ctx.setExitCode(EXIT.PARTIAL);
}
