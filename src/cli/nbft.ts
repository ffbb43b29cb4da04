import type { ControllerInfo } from '../kernel/port.js';
import type { NbftTableRead } from '../kernel/nbft.js';
import type { NbftTable } from '../nbft/decode.js';
import type { CliContext } from './context.js';
import { EXIT } from './exit.js';
import { renderTable } from './output.js';

/** One table as `nbft show -o json` prints it: the decoded table with each subsystem's live controllers. */
function tableJson(r: NbftTableRead, served: (t: NbftTable, index: number) => string[]): unknown {
  if (r.table === null) return { name: r.name, error: r.error?.message ?? 'unreadable' };
  const t = r.table;
  return {
    ...t,
    error: null,
    subsystems: t.subsystems.map((s) => ({ ...s, controllers: served(t, s.index) })),
  };
}

function tableText(r: NbftTableRead, served: (t: NbftTable, index: number) => string[]): string {
  if (r.table === null) return `${r.name}: ERROR: ${r.error?.message ?? 'unreadable'}\n`;
  const t = r.table;
  let out = `${t.name}: revision ${t.majorRevision}.${t.minorRevision}, OEM ${t.oemId} ${t.oemTableId}\n`;
  out += `host NQN ${t.host.hostNqn}\nhost ID  ${t.host.hostId ?? '-'}\n`;
  for (const h of t.hfis) {
    const ip = h.tcp === null ? '' : ` ${h.tcp.ipAddress ?? '-'}/${h.tcp.subnetMaskPrefix} mac ${h.tcp.mac}`;
    out += `HFI ${h.index}: ${h.transport ?? `trtype ${h.trtype}`}${ip}${h.tcp?.dhcpOverride ? ' (DHCP)' : ''}\n`;
  }
  out += '\n';
  out += renderTable(
    ['SSNS', 'Transport', 'Address', 'Port', 'Subsystem', 'NSID', 'HFI', 'Served by'],
    t.subsystems.map((s) => {
      const by = served(t, s.index);
      return [
        String(s.index),
        s.transport ?? `trtype ${s.trtype}`,
        s.traddr,
        s.trsvcid ?? '-',
        s.subsysNqn,
        s.nsid === 0 ? '-' : String(s.nsid),
        String(s.primaryHfiIndex),
        by.length === 0 ? 'not connected' : by.join(','),
      ];
    }),
  );
  for (const d of t.discovery)
    out += `discovery ${d.index}: ${d.uri ?? '-'} ${d.nqn ?? '(well-known discovery NQN)'} via HFI ${d.hfiIndex}\n`;
  for (const w of t.warnings) out += `warning: ${w}\n`;
  return out;
}

export async function runNbftShow(ctx: CliContext): Promise<void> {
  const { kernel } = await ctx.kernel();
  const { bootEntriesOf, nbftServes } = await import('../nbft/boot.js');
  const reads = await kernel.nbftTables();
  const controllers: ControllerInfo[] = reads.some((r) => r.table !== null)
    ? (await kernel.listControllers()).filter((c) => c.fabrics)
    : [];
  const served = (t: NbftTable, index: number): string[] => {
    const e = bootEntriesOf(t).find((x) => x.index === index);
    return e === undefined
      ? []
      : controllers.filter((c) => c.state !== 'deleting' && nbftServes(e, c)).map((c) => c.device);
  };
  ctx.result({ tables: reads.map((r) => tableJson(r, served)) }, () =>
    reads.length === 0
      ? 'no NBFT table: the firmware did not boot this host from NVMe over Fabrics\n'
      : reads.map((r) => tableText(r, served)).join('\n'),
  );
  if (reads.some((r) => r.table === null)) ctx.setExitCode(EXIT.ERROR);
}
