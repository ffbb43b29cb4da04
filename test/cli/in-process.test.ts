import { afterEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { createContext } from '../../src/cli/create-context.js';
import { runDisconnectAll } from '../../src/cli/disconnect-all.js';
import { EXIT, exitCodeFor } from '../../src/cli/exit.js';
import type { NvmfPlugin } from '../../src/cli/plugin.js';
import { createPluginHost } from '../../src/cli/plugin-host.js';
import type { DisconnectAllResult } from '../../src/engine/disconnect.js';
import { NvmfError } from '../../src/errors.js';
import type { ControllerInfo, Kernel } from '../../src/kernel/port.js';
import { type Sandbox, sandbox } from '../registry/helpers.js';

let sb: Sandbox | undefined;
afterEach(() => sb?.cleanup());

const controller = (device: string): ControllerInfo => ({
  device,
  instance: Number(device.slice(4)),
  transport: 'tcp',
  fabrics: true,
  address: { traddr: '192.0.2.1', trsvcid: '4420' },
  rawAddress: 'traddr=192.0.2.1,trsvcid=4420',
  subsysnqn: `nqn.2024-01.io.example:${device}`,
  hostnqn: null,
  hostid: null,
  state: 'live',
  cntlid: 1,
  subsystemType: 'nvm',
});

/**
 * The sim kernel cannot make a delete_controller write fail, so the partial-failure path of
 * disconnect-all is driven here through a kernel stand-in whose delete fails as `results`
 * says, with the registry plugin's part (the guarding registry) played by a sandbox registry.
 */
function harness(results: DisconnectAllResult[], format: 'normal' | 'json') {
  const out: string[] = [];
  const err: string[] = [];
  sb = sandbox();
  for (const r of results) sb.nodes.add(r.device);
  const registry = sb.open();
  const present = new Set(results.map((r) => r.device));
  const refuse = async (): Promise<never> => {
    throw new Error('not used');
  };
  const kernel: Kernel = {
    kind: 'sim',
    connect: refuse,
    supportedOptions: refuse,
    listControllers: async () => [...present].map(controller),
    controller: async (d) => (present.has(d) ? controller(d) : null),
    deviceNodeExists: (d) => present.has(d),
    ueventSeqnum: () => 1,
    bootId: () => null,
    deleteController: async (d) => {
      const r = results.find((x) => x.device === d);
      if (r !== undefined && !r.ok) throw new Error(r.error);
      present.delete(d);
    },
    namespaces: async () => [],
    // a host whose controllers serve no disks and nothing is mounted
    hostSnapshot: async (devices) => {
      const cs = [...present].filter((d) => devices === undefined || devices.includes(d)).map(controller);
      const namespaces = Object.fromEntries(cs.map((c) => [c.device, []]));
      return { controllers: cs, namespaces, disks: {}, blocks: {}, mounts: [], swaps: [], unreadable: [] };
    },
    blockDeviceExists: () => false,
    discoveryLogPage: refuse,
  };
  const plugin: NvmfPlugin = { name: 'fake', disconnectAllRegistry: async () => registry };
  const ctx: CliContext = createContext(
    {
      env: {},
      stdout: { write: (s) => out.push(s) },
      stderr: { write: (s) => err.push(s) },
      isTTY: false,
      ask: refuse,
    },
    {
      kernel: async () => ({ kernel, roots: registry.roots }),
      roots: async () => registry.roots,
      auditor: async () => ({ record() {} }),
    },
    createPluginHost([plugin]),
    () => ({ opts: () => ({ outputFormat: format, verbose: 0 }) }),
  );
  return { ctx, out, err };
}

describe('disconnect-all exit status', () => {
  it('one failure of two: exit 3, both results printed (JSON)', async () => {
    const { ctx, out } = harness(
      [
        { device: 'nvme0', ok: true },
        { device: 'nvme1', ok: false, error: 'writing delete_controller of nvme1 failed: EIO' },
      ],
      'json',
    );
    await runDisconnectAll(ctx, { yes: true });
    expect(ctx.exitCode()).toBe(EXIT.PARTIAL);
    const doc = JSON.parse(out.join('')) as { results: unknown[] };
    expect(doc.results).toEqual([
      { device: 'nvme0', ok: true },
      { device: 'nvme1', ok: false, error: 'writing delete_controller of nvme1 failed: EIO' },
    ]);
  });

  it('one failure of two: exit 3, text names the failure', async () => {
    const { ctx, out, err } = harness(
      [
        { device: 'nvme0', ok: true },
        { device: 'nvme1', ok: false, error: 'EIO' },
      ],
      'normal',
    );
    await runDisconnectAll(ctx, { yes: true });
    expect(ctx.exitCode()).toBe(EXIT.PARTIAL);
    expect(out.join('')).toContain('nvme0: disconnected\nnvme1: FAILED: EIO\n');
    expect(err.join('')).toContain('1 of 2 disconnects failed');
  });

  it('all succeeded: exit 0', async () => {
    const { ctx } = harness(
      [
        { device: 'nvme0', ok: true },
        { device: 'nvme1', ok: true },
      ],
      'normal',
    );
    await runDisconnectAll(ctx, { yes: true });
    expect(ctx.exitCode()).toBe(EXIT.OK);
  });
});

describe('exitCodeFor', () => {
  it.each([
    ['EUSAGE', 2],
    ['EINVALID_OPTION', 2],
    ['EINVALID_DEVICE', 2],
    ['ERESERVED_ATTR', 2],
    ['EPARTIAL', 3],
    ['EABORTED', 1],
    ['EOWNER_CONFLICT', 1],
    ['EKERNEL', 1],
    ['ECONFIG', 1],
  ] as const)('%s -> %i', (code, exit) => {
    expect(exitCodeFor(new NvmfError(code, 'x'))).toBe(exit);
  });
  it('a non-NvmfError is 1', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });
});
