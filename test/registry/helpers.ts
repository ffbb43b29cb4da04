import { isNvmfError } from '../../src/errors.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import type { AuditEvent, Auditor } from '../../src/audit/event.js';
import { linuxHostFacts } from '../../src/kernel/host-facts.js';
import type { HostFacts } from '../../src/kernel/port.js';
import { Registry, type RegistryOptions } from '../../src/registry/index.js';

export interface Sandbox {
  base: string;
  root: string;
  dev: string;
  sysfs: string;
  bootIdPath: string;
  events: AuditEvent[];
  nodes: Set<string>;
  seqnum: { value: number };
  open(extra?: SandboxOpen): Registry;
  cleanup(): void;
}

/**
 * Registry options plus single host facts to override. A fact given as undefined is the
 * Linux default under the sandbox's roots (guard 1 by lstat under dev, the seqnum file).
 */
export type SandboxOpen = Partial<RegistryOptions> & {
  deviceNodeExists?: ((device: string) => boolean) | undefined;
  readSeqnum?: (() => number) | undefined;
};

/** A temp host: registry root (not yet created), dev and sysfs trees, a boot id, a recording auditor. */
export function sandbox(): Sandbox {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-reg-'));
  const dev = path.join(base, 'dev');
  const sysfs = path.join(base, 'sys');
  fs.mkdirSync(dev);
  fs.mkdirSync(path.join(sysfs, 'kernel'), { recursive: true });
  const bootIdPath = path.join(base, 'boot_id');
  fs.writeFileSync(bootIdPath, '11111111-2222-3333-4444-555555555555\n');
  const events: AuditEvent[] = [];
  const nodes = new Set<string>();
  const seqnum = { value: 1000 };
  const auditor: Auditor = { record: (e) => events.push(e) };
  const root = path.join(base, 'run', 'nvme', 'registry');
  return {
    base,
    root,
    dev,
    sysfs,
    bootIdPath,
    events,
    nodes,
    seqnum,
    open: (extra = {}) => {
      const { deviceNodeExists, readSeqnum, ...rest } = extra;
      const linux = linuxHostFacts(
        { dev: rest.roots?.dev ?? dev, sysfs: rest.roots?.sysfs ?? sysfs },
        bootIdPath,
      );
      const host: HostFacts = {
        deviceNodeExists:
          'deviceNodeExists' in extra ? (deviceNodeExists ?? linux.deviceNodeExists) : (d) => nodes.has(d),
        ueventSeqnum: 'readSeqnum' in extra ? (readSeqnum ?? linux.ueventSeqnum) : () => seqnum.value,
        bootId: linux.bootId,
      };
      return Registry.open({ roots: { registry: root, dev, sysfs }, env: {}, audit: auditor, host, ...rest });
    },
    cleanup: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}

export function mode(p: string): number {
  return fs.lstatSync(p).mode & 0o777;
}

/**
 * The registry bundled into one CommonJS file, so child processes start in tens of
 * milliseconds instead of paying for a TypeScript loader each time.
 */
export function bundleRegistry(dir: string): string {
  const out = path.join(dir, 'registry.cjs');
  buildSync({
    // The registry's exports, the lock's for the tests that take it by hand, and the publish hook.
    stdin: {
      contents:
        "export * from './index.ts';\nexport { lockPath, withDeviceLock, withDeviceLockAsync } from './lock.ts';\nexport { publishHooks } from './registry.ts';\n",
      resolveDir: path.resolve(import.meta.dirname, '../../src/registry'),
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: out,
    logLevel: 'silent',
    // koffi loads its native module from beside its own files: it stays a require, resolved
    // from this project's node_modules wherever the bundle is written.
    external: ['koffi'],
    banner: {
      js: `module.paths.unshift(${JSON.stringify(path.resolve(import.meta.dirname, '../../node_modules'))});`,
    },
  });
  return out;
}

/** The NvmfError code `fn` throws, null when it returns, or a marker for any other error. */
export function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return isNvmfError(e) ? e.code : `non-NvmfError: ${String(e)}`;
  }
}
