import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The `nvmf` bin exactly as package.json ships it (the bundle `npm run build` writes). */
export const MAIN = path.join(
  REPO,
  (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: { nvmf: string } }).bin
    .nvmf,
);

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr without the audit records (JSON lines the stderr audit sink writes). */
  messages: string;
  /** The audit records written to stderr. */
  audit: Record<string, unknown>[];
}

/** A private host: registry, dev and etc roots under one temp dir, no host config read. */
export interface Host {
  dir: string;
  env: Record<string, string>;
}

export function tempHost(extra: Record<string, string> = {}): Host {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-'));
  for (const d of ['registry', 'dev', 'etc/nvme', 'sys/kernel'])
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sys/kernel/uevent_seqnum'), '100\n');
  return {
    dir,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      NVMF_REGISTRY_ROOT: path.join(dir, 'registry'),
      NVMF_DEV_ROOT: path.join(dir, 'dev'),
      NVMF_SYSFS_ROOT: path.join(dir, 'sys'),
      NVMF_ETC_ROOT: path.join(dir, 'etc'),
      NVMF_AUDIT_SINK: 'stderr',
      ...extra,
    },
  };
}

function split(code: number | null, stdout: string, stderr: string): Run {
  const audit: Record<string, unknown>[] = [];
  const messages: string[] = [];
  for (const line of stderr.split('\n')) {
    if (line.startsWith('{"') && line.includes('NVMF_ACTION'))
      audit.push(JSON.parse(line) as Record<string, unknown>);
    else if (line !== '') messages.push(line);
  }
  return { code: code ?? -1, stdout, stderr, messages: messages.join('\n'), audit };
}

/**
 * `nvmf ARGS` with stdin from `input`, without a controlling terminal (a new session, as under
 * cron or systemd), so a prompt never reaches the terminal the tests were started from.
 */
export function nvmf(env: Record<string, string>, args: readonly string[], input = ''): Run {
  // spawnSync honours `detached` (setsid) like spawn; its option type just does not list it
  const opts = { env, input, encoding: 'utf8' as const, timeout: 30_000, detached: true };
  const r = spawnSync(process.execPath, [MAIN, ...args], opts);
  return split(r.status, r.stdout, r.stderr);
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `nvmf ARGS` on a real pseudo-terminal (util-linux `script`), `typed` fed to it as the
 * operator's keystrokes. stdout and stderr arrive merged, as on a screen. `redirect` is shell
 * text appended to the command (`2>/dev/null`, `</dev/null`).
 */
export function nvmfOnTerminal(
  env: Record<string, string>,
  args: readonly string[],
  typed: string,
  redirect = '',
): Run {
  const cmd = `${[process.execPath, MAIN, ...args].map(shq).join(' ')} ${redirect}`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {
    env,
    input: typed,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const out = r.stdout.replace(/\r\n/g, '\n');
  return split(r.status, out, '');
}

export function writeEntry(host: Host, device: string, attrs: Record<string, string>, live = true): void {
  const dir = path.join(host.env['NVMF_REGISTRY_ROOT']!, device);
  fs.mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(attrs)) fs.writeFileSync(path.join(dir, k), `${v}\n`);
  if (live) liveController(host, device);
}

/**
 * Make `device` a live controller of the host: its sysfs directory (liveness, DESIGN §4a)
 * and its device node.
 */
export function liveController(host: Host, device: string): void {
  const dir = path.join(host.env['NVMF_SYSFS_ROOT']!, 'class', 'nvme', device);
  fs.mkdirSync(dir, { recursive: true });
  const attrs = {
    transport: 'tcp',
    subsysnqn: 'nqn.2014-08.org.example:test',
    address: 'traddr=127.0.0.1,trsvcid=4420',
    state: 'live',
  };
  for (const [k, v] of Object.entries(attrs)) fs.writeFileSync(path.join(dir, k), `${v}\n`);
  fs.writeFileSync(path.join(host.env['NVMF_DEV_ROOT']!, device), '');
}

export function readOwner(host: Host, device: string): string | null {
  try {
    return fs.readFileSync(path.join(host.env['NVMF_REGISTRY_ROOT']!, device, 'owner'), 'utf8').trimEnd();
  } catch {
    return null;
  }
}

export function entryExists(host: Host, device: string): boolean {
  return fs.existsSync(path.join(host.env['NVMF_REGISTRY_ROOT']!, device));
}
