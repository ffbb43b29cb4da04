import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import { createContext } from '../../src/cli/create-context.js';
import { runConnectAll, runDiscover } from '../../src/cli/discover.js';
import type { DiscoveryControllerView, NvmfPlugin } from '../../src/cli/plugin.js';
import { createPluginHost } from '../../src/cli/plugin-host.js';
import { SimKernel, simInit, simRoots } from '../../src/kernel/sim.js';

const NQN_A = 'nqn.2024-01.io.example:sub-a';
const TARGETS = {
  subsystems: [
    { nqn: NQN_A, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 1 },
  ],
  discovery: [
    {
      transport: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '8009',
      entries: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', subnqn: NQN_A }],
    },
  ],
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The discover command in-process on a sim host, with the given plugins enabled. */
async function host(plugins: NvmfPlugin[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-disc-check-'));
  dirs.push(dir);
  await simInit(dir, {
    targets: TARGETS,
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} } },
  });
  const kernel = new SimKernel({ dir });
  const events: AuditEvent[] = [];
  const out: string[] = [];
  const ctx = createContext(
    {
      env: {},
      stdout: { write: (s) => out.push(s) },
      stderr: { write: () => undefined },
      isTTY: false,
      ask: async () => '',
    },
    {
      kernel: async () => ({ kernel, roots: simRoots(dir) }),
      roots: async () => simRoots(dir),
      auditor: async () => ({ record: (e: AuditEvent) => void events.push(e) }),
    },
    createPluginHost(plugins),
    () => ({ opts: () => ({ outputFormat: 'json', verbose: 0 }) }),
  );
  return { ctx, kernel, out, events };
}

describe("the plugins' discovery-controller check", () => {
  it('is asked about each existing discovery controller; a reason skips it, undefined allows it', async () => {
    const asked: DiscoveryControllerView[] = [];
    let veto: string | undefined = 'site policy forbids it';
    const policy: NvmfPlugin = {
      name: 'site',
      checkDiscoveryController: (c) => {
        asked.push(c);
        return veto;
      },
    };
    const h = await host([{ name: 'quiet' }, policy]);
    const disc = await h.kernel.connect(
      `nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=10.0.0.1,trsvcid=8009`,
    );
    const opts = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '8009' };

    await runDiscover(h.ctx, opts);
    const vetoed = JSON.parse(h.out.splice(0).join('')) as {
      entries: unknown[];
      skipped: { reason: string }[];
    };
    expect(asked).toEqual([
      { device: `nvme${disc.instance}`, transport: 'tcp', traddr: '10.0.0.1', trsvcid: '8009', owner: null },
    ]);
    expect(vetoed.entries).toEqual([]);
    expect(vetoed.skipped).toEqual([
      {
        source: 'tcp 10.0.0.1:8009',
        reason: `discovery controller nvme${disc.instance}: site policy forbids it (plugin site); not used`,
      },
    ]);
    expect(h.events.some((e) => e.action === 'discover-skip')).toBe(true);

    veto = undefined;
    await runDiscover(h.ctx, opts);
    const allowed = JSON.parse(h.out.splice(0).join('')) as { entries: { subnqn: string }[] };
    expect(allowed.entries.map((e) => e.subnqn)).toContain(NQN_A);

    // connect-all goes through the same check
    veto = 'not today';
    await runConnectAll(h.ctx, opts);
    const all = JSON.parse(h.out.splice(0).join('')) as {
      discovery: { skipped: { reason: string }[] };
    } & Record<string, unknown>;
    expect(JSON.stringify(all)).toContain('not today (plugin site)');
    expect((await h.kernel.listControllers()).map((c) => c.subsysnqn)).not.toContain(NQN_A);
  });
});
