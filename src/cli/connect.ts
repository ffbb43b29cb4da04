import { CONNECT_OPTIONS, connectInputOf, withFlagName, withHostDefaults } from './connect-options.js';
import type { CliContext } from './context.js';
import { engineContext, engineOwner } from './engine-context.js';
import { escapeText } from './output.js';
import type { ConnectOperation } from './plugin.js';

export async function runConnect(ctx: CliContext, opts: Record<string, unknown>): Promise<void> {
  const { parseConnectOptions } = await import('../engine/options.js');
  const { connect } = await import('../engine/connect.js');
  const input = withHostDefaults(connectInputOf(opts, CONNECT_OPTIONS), ctx.env);
  try {
    // validate before any plugin or the kernel is involved
    parseConnectOptions(input);
  } catch (e) {
    throw withFlagName(e);
  }
  const op: ConnectOperation = { command: 'connect', cliOptions: opts, owner: undefined };
  await ctx.plugins.beforeConnect(op, ctx);
  const ectx = await engineContext(ctx);
  const owner = engineOwner(op.owner);
  let result: Awaited<ReturnType<typeof connect>>;
  try {
    result = await connect(ectx, input, {
      ...(owner !== undefined ? { owner } : {}),
      force: opts['force'] === true,
      wait: opts['wait'] === true,
      onWait: ({ device, pid, owner }) =>
        ctx.note(
          `${device}: waiting for the connect in progress (pid ${pid}, owner ${owner}) to finish`,
          true,
        ),
    });
  } catch (e) {
    throw withFlagName(e);
  }
  await ctx.plugins.afterConnect(
    op,
    { device: result.device, owner: result.owner, reused: result.reused },
    ctx,
  );
  ctx.result(
    {
      device: result.device,
      cntlid: result.cntlid,
      owner: result.owner,
      reused: result.reused,
      namespaces: result.namespaces,
      ...(result.change !== undefined ? { change: result.change } : {}),
    },
    () =>
      `device: ${result.device}${result.reused ? ' (already connected, reused)' : ''}` +
      `${result.owner !== null ? `, owner ${escapeText(result.owner)}` : ''}` +
      `${result.change !== undefined ? `, ${escapeText(result.change)}` : ''}` +
      `${result.namespaces.length > 0 ? `, namespaces ${result.namespaces.join(' ')}` : ''}\n`,
  );
}
