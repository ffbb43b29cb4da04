import type { CliContext } from './context.js';

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
  /** Registry owner of a fabrics controller; null when unowned and always for local ones. */
  owner: string | null;
}

/** Controllers from the kernel joined with their registry owners. */
export async function listControllers(ctx: CliContext): Promise<ListedController[]> {
  const { kernel, roots } = await ctx.kernel();
  const { Registry } = await import('../registry/registry.js');
  const reg = Registry.open({
    roots,
    audit: { record() {} },
    host: kernel,
  });
  const owners = new Map(reg.list().live.map((e) => [e.device, e.error ? null : e.owner]));
  const ctrls = await kernel.listControllers();
  return ctrls.map((c) => ({
    device: c.device,
    transport: c.transport,
    address: c.rawAddress,
    subsysnqn: c.subsysnqn,
    state: c.state,
    cntlid: c.cntlid,
    fabrics: c.fabrics,
    owner: c.fabrics ? (owners.get(c.device) ?? null) : null,
  }));
}
