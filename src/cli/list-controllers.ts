import type { CliContext } from './context.js';
import type { verdictJson } from '../registry/verdict.js';

type VerdictJson = ReturnType<typeof verdictJson>;

export interface ListedController {
  device: string;
  transport: string;
  /** The kernel's `address` attribute as is (`traddr=...,trsvcid=...`), empty for PCIe. */
  address: string;
  subsysnqn: string;
  state: string;
  cntlid: number | null;
  /** False for PCIe and other local controllers. */
  fabrics: boolean;
  /** Registry owner of a fabrics controller (its verdict's owner); null otherwise and always for local ones. */
  owner: string | null;
  /** The ownership verdict of a fabrics controller (DESIGN §4a); null for local ones. */
  verdict: VerdictJson | null;
}

/** Controllers from the kernel, each with the ownership verdict of its registry entry. */
export async function listControllers(ctx: CliContext): Promise<ListedController[]> {
  const { kernel, roots } = await ctx.kernel();
  const { Registry } = await import('../registry/registry.js');
  const { ownershipVerdict, verdictJson, verdictOwner } = await import('../registry/verdict.js');
  const reg = Registry.open({
    roots,
    audit: { record() {} },
    host: kernel,
  });
  const ctrls = await kernel.listControllers();
  const verdicts = new Map(reg.list({ controllers: ctrls }).live.map((e) => [e.device, e.verdict]));
  return ctrls.map((c) => {
    const v = c.fabrics ? (verdicts.get(c.device) ?? ownershipVerdict(null, null, 0)) : null;
    return {
      device: c.device,
      transport: c.transport,
      address: c.rawAddress,
      subsysnqn: c.subsysnqn,
      state: c.state,
      cntlid: c.cntlid,
      fabrics: c.fabrics,
      owner: v === null ? null : verdictOwner(v),
      verdict: v === null ? null : verdictJson(v),
    };
  });
}

/**
 * The kernel's `address` attribute as a table shows it: `traddr:trsvcid` (an IPv6 address in
 * brackets), or the traddr alone; the other keys (host_traddr, src_addr) only with `-vv` or
 * in JSON. Anything without a traddr (PCIe) as is.
 */
export function tableAddress(raw: string, whole: boolean): string {
  if (raw === '') return '-';
  if (whole) return raw;
  const kv = new Map(
    raw.split(',').map((p) => {
      const i = p.indexOf('=');
      return [i < 0 ? p : p.slice(0, i), i < 0 ? '' : p.slice(i + 1)] as const;
    }),
  );
  const traddr = kv.get('traddr');
  if (traddr === undefined || traddr === '') return raw;
  const trsvcid = kv.get('trsvcid');
  if (trsvcid === undefined || trsvcid === '' || trsvcid === 'none') return traddr;
  return `${traddr.includes(':') ? `[${traddr}]` : traddr}:${trsvcid}`;
}
