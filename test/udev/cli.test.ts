import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as udevCommand from '../../src/cli/commands/udev.js';
import { createContext } from '../../src/cli/create-context.js';
import { createPluginHost } from '../../src/cli/plugin-host.js';
import { buildProgram } from '../../src/cli/program.js';

let dir: string;
let env: Record<string, string>;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-udev-cli-'));
  env = {
    NVMF_UDEV_RULES_DIR: path.join(dir, 'rules.d'),
    NVMF_LIBEXEC_DIR: path.join(dir, 'libexec', 'nvmf-registry'),
    NVMF_UDEV_CONTROL: path.join(dir, 'control'),
    NVMF_UDEVADM: path.join(dir, 'udevadm'),
  };
  fs.writeFileSync(env.NVMF_UDEVADM as string, `#!/bin/sh\necho "$*" >> "${dir}/calls"\n`, { mode: 0o755 });
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function nvmf(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const unused = async (): Promise<never> => {
    throw new Error('the udev commands need no kernel, roots or auditor');
  };
  let program: Command | undefined;
  const ctx = createContext(
    {
      env,
      stdout: { write: (s) => out.push(s) },
      stderr: { write: (s) => err.push(s) },
      isTTY: false,
      ask: unused,
    },
    { kernel: unused, roots: unused, auditor: unused },
    createPluginHost([]),
    () => program as Command,
  );
  program = buildProgram(ctx, [udevCommand], '0.0.0');
  await program.parseAsync(['node', 'nvmf', ...args]);
  return { out: out.join(''), err: err.join(''), code: ctx.exitCode() };
}

describe('nvmf udev', () => {
  it('status -o json on a clean host, install, status again', async () => {
    const before = JSON.parse((await nvmf('udev', 'status', '-o', 'json')).out);
    expect(before).toMatchObject({
      rule: { installed: false },
      helper: { installed: false },
      udevd: { running: false },
      upToDate: false,
    });

    const inst = await nvmf('udev', 'install', '-o', 'json');
    expect(JSON.parse(inst.out)).toMatchObject({
      rule: { changed: true },
      helper: { changed: true },
      reload: 'not-running',
    });
    expect(inst.err).toContain('warning: the rule runs /usr/libexec/nvmf-registry/nvmf-registry-cleanup');
    expect(inst.code).toBe(0);

    const after = JSON.parse((await nvmf('udev', 'status', '-o', 'json')).out);
    expect(after).toMatchObject({
      rule: { installed: true, current: true },
      helper: { current: true, mode: '0755' },
      upToDate: true,
    });
  });

  it('prints readable text, and reloads a running udevd', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(env.NVMF_UDEV_CONTROL as string, r));
    try {
      const inst = await nvmf('udev', 'install');
      expect(inst.out).toContain(
        `installed  ${path.join(env.NVMF_UDEV_RULES_DIR as string, '70-nvmf-registry.rules')}`,
      );
      expect(inst.out).toContain('udevd: rules reloaded');
      expect(fs.readFileSync(path.join(dir, 'calls'), 'utf8')).toBe('control --reload\n');

      const st = await nvmf('udev', 'status');
      expect(st.out).toMatch(/^rule\s+installed, current\s+\S+70-nvmf-registry.rules$/m);
      expect(st.out).toMatch(/^udevd\s+running\s/m);

      const un = await nvmf('udev', 'uninstall');
      expect(un.out).toContain('removed  ');
      expect(un.out).toContain('udevd: rules reloaded');
      expect((await nvmf('udev', 'status')).out).toContain("run 'nvmf udev install'");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('says NOT current for a locally edited rule', async () => {
    await nvmf('udev', 'install');
    fs.appendFileSync(path.join(env.NVMF_UDEV_RULES_DIR as string, '70-nvmf-registry.rules'), '# edited\n');
    expect((await nvmf('udev', 'status')).out).toMatch(/^rule\s+installed, NOT current/m);
  });
});
