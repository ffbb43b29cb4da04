import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const HELPER = path.join(REPO, 'udev', 'nvmf-registry-cleanup');
export const UPSTREAM = path.join(REPO, 'test', 'fixtures', 'upstream-rule', 'cleanup.sh');
export const FAKE_LOGGER = path.join(here, 'fake-logger.sh');
export const BATCH_DRIVER = path.join(here, 'batch.sh');
/** The helper's tests run it under dash: the strictest POSIX shell we have. */
export const SHELL = 'dash';

export interface Sandbox {
  dir: string;
  registry: string;
  dev: string;
  /** A stale-looking entry (no node) with the given files. */
  entry(device: string, files?: { owner?: string; seqnum?: string }): string;
  node(device: string): void;
  cleanup(): void;
}

export function sandbox(prefix = 'nvmf-udev-'): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const registry = path.join(dir, 'registry');
  const dev = path.join(dir, 'dev');
  fs.mkdirSync(registry);
  fs.mkdirSync(dev);
  return {
    dir,
    registry,
    dev,
    entry(device, files = {}) {
      const e = path.join(registry, device);
      fs.mkdirSync(e);
      if (files.owner !== undefined) fs.writeFileSync(path.join(e, 'owner'), files.owner);
      if (files.seqnum !== undefined) fs.writeFileSync(path.join(e, 'seqnum'), files.seqnum);
      return e;
    },
    node(device) {
      // The helper only asks whether the path exists; a regular file stands in for the char device.
      fs.writeFileSync(path.join(dev, device), '');
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Run {
  code: number | null;
  stderr: string;
  records: LogRecord[];
}

/** One logged decision as the fake logger saw it. */
export interface LogRecord {
  via: 'journald' | 'file' | 'syslog' | 'stderr';
  /**
   * journald and the audit file: the fields; syslog/stderr: `TEXT` (and `ARGS` for syslog,
   * joined by spaces).
   */
  fields: Record<string, string>;
}

export function parseRecords(stderr: string): LogRecord[] {
  const out: LogRecord[] = [];
  const lines = stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === 'JOURNALD' || line === 'SYSLOG') {
      const block: string[] = [];
      for (i++; i < lines.length && lines[i] !== ''; i++) block.push(lines[i] ?? '');
      if (line === 'JOURNALD') {
        const fields: Record<string, string> = {};
        for (const l of block) {
          const eq = l.indexOf('=');
          if (eq <= 0) throw new Error(`journald field line without '=': ${JSON.stringify(l)}`);
          const k = l.slice(0, eq);
          if (k in fields) throw new Error(`duplicate journald field ${k}`);
          fields[k] = l.slice(eq + 1);
        }
        out.push({ via: 'journald', fields });
      } else {
        out.push({ via: 'syslog', fields: { ARGS: block.slice(0, -1).join(' '), TEXT: block.at(-1) ?? '' } });
      }
    } else if (line.startsWith('nvmf-registry: ')) {
      out.push({ via: 'stderr', fields: { TEXT: line } });
    }
  }
  return out;
}

export interface RunOptions {
  script?: string;
  env?: Record<string, string>;
  /** Use the fake logger (default true); false leaves NVMF_LOGGER unset. */
  fakeLogger?: boolean;
}

let runs = 0;

export function runHelper(
  sb: Pick<Sandbox, 'registry' | 'dev'>,
  args: string[],
  opts: RunOptions = {},
): Promise<Run> {
  const out = path.join(path.dirname(sb.registry), `.log.${process.pid}.${runs}`);
  const auditFile = path.join(path.dirname(sb.registry), `.audit.${process.pid}.${runs++}.jsonl`);
  const env: Record<string, string> = {
    FAKE_LOGGER_OUT: out,
    NVMF_AUDIT_FILE: auditFile,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NVMF_REGISTRY_ROOT: sb.registry,
    NVMF_DEV_ROOT: sb.dev,
    ...(opts.fakeLogger === false ? {} : { NVMF_LOGGER: FAKE_LOGGER }),
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(SHELL, [opts.script ?? HELPER, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      let logged = '';
      try {
        logged = fs.readFileSync(out, 'utf8');
        fs.unlinkSync(out);
      } catch {
        // nothing reached the fake logger
      }
      const filed: LogRecord[] = [];
      try {
        for (const line of fs.readFileSync(auditFile, 'utf8').split('\n')) {
          if (line !== '') filed.push({ via: 'file', fields: JSON.parse(line) as Record<string, string> });
        }
        fs.unlinkSync(auditFile);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return reject(e);
      }
      resolve({ code, stderr, records: [...parseRecords(logged), ...filed, ...parseRecords(stderr)] });
    });
  });
}

/** The single decision record of a run (the helper logs exactly one per invocation). */
export function decision(run: Run): Record<string, string> {
  if (run.records.length !== 1) {
    throw new Error(`expected one record, got ${run.records.length}: ${run.stderr}`);
  }
  return (run.records[0] as LogRecord).fields;
}

export function mkfifos(paths: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mkfifo', paths, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo exited ${code}`))));
  });
}

/**
 * Release a helper paused on FIFO `p`. Non-blocking open fails with ENXIO until the reader
 * has opened its end, so a dead helper can never hang the test.
 */
export async function releaseFifo(p: string, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      fs.writeSync(fd, 'go\n');
      fs.closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

export async function waitFor(cond: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Run `script DEVICE SEQNUM` for every device at once through batch.sh (one Node spawn per
 * batch). `pause` is `fifo` (OUTDIR/pause.DEVICE, created here) or a value for
 * NVMF_TEST_PAUSE_AFTER_CHECK; `fifo(d)` names a device's FIFO. `started` resolves once the
 * driver runs, `done` when every run ended.
 */
export function runBatch(
  sb: Sandbox,
  script: string,
  devices: string[],
  seqnum: string,
  pause: string,
): {
  out: string;
  fifo: (device: string) => string;
  started: Promise<void>;
  done: Promise<Map<string, Run>>;
} {
  const out = fs.mkdtempSync(path.join(sb.dir, 'batch-'));
  let onStart: () => void = () => {};
  let onStartErr: (e: unknown) => void = () => {};
  const started = new Promise<void>((res, rej) => {
    onStart = res;
    onStartErr = rej;
  });
  const done = (async () => {
    if (pause === 'fifo') await mkfifos(devices.map((d) => path.join(out, `pause.${d}`)));
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NVMF_REGISTRY_ROOT: sb.registry,
      NVMF_DEV_ROOT: sb.dev,
      NVMF_LOGGER: FAKE_LOGGER,
    };
    await new Promise<void>((resolve, reject) => {
      const child = spawn(SHELL, [BATCH_DRIVER, script, out, seqnum, pause, ...devices], {
        env,
        stdio: 'ignore',
      });
      child.on('spawn', onStart);
      child.on('error', (e) => {
        onStartErr(e);
        reject(e);
      });
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`batch driver exited ${code}`)),
      );
    });
    const runs = new Map<string, Run>();
    for (const d of devices) {
      const read = (name: string): string => {
        try {
          return fs.readFileSync(path.join(out, `${name}.${d}`), 'utf8');
        } catch {
          return '';
        }
      };
      const stderr = read('err');
      const rc = read('rc').trim();
      runs.set(d, {
        code: rc === '' ? null : Number(rc),
        stderr,
        records: [...parseRecords(read('log')), ...parseRecords(stderr)],
      });
    }
    return runs;
  })();
  return { out, fifo: (d) => path.join(out, `pause.${d}`), started, done };
}
