import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { createContext } from '../../src/cli/create-context.js';
import { runDisconnectAll } from '../../src/cli/disconnect-all.js';
import { EXIT, exitCodeFor } from '../../src/cli/exit.js';
import type { DisconnectAllPlanItem, DisconnectAllResult, NvmfPlugin } from '../../src/cli/plugin.js';
import { createPluginHost } from '../../src/cli/plugin-host.js';
import { NvmfError } from '../../src/errors.js';

/**
 * The sim kernel cannot make a delete_controller write fail, so the partial-failure path of
 * disconnect-all is driven here through a plugin whose executor reports one failure.
 */
function harness(results: DisconnectAllResult[], format: 'normal' | 'json') {
  const out: string[] = [];
  const err: string[] = [];
  const items: DisconnectAllPlanItem[] = [
    {
      device: 'nvme0',
      transport: 'tcp',
      owner: null,
      action: 'disconnect',
      reason: 'unowned (no registry entry)',
    },
    {
      device: 'nvme1',
      transport: 'tcp',
      owner: null,
      action: 'disconnect',
      reason: 'unowned (no registry entry)',
    },
  ];
  const plugin: NvmfPlugin = {
    name: 'fake',
    planDisconnectAll: async () => ({ items, execute: async () => results }),
  };
  const unused = async (): Promise<never> => {
    throw new Error('not used');
  };
  const ctx: CliContext = createContext(
    {
      env: {},
      stdout: { write: (s) => out.push(s) },
      stderr: { write: (s) => err.push(s) },
      isTTY: false,
      ask: unused,
    },
    { kernel: unused, roots: unused, auditor: unused },
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
