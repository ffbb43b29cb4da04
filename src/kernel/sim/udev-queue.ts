import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Roots } from '../../roots.js';
import { readConfig, type SimConfig } from './config.js';
import { type SimLayout, writeAtomic } from './layout.js';
import { withDirLock } from './lock.js';
import type { SimUevent } from './state.js';
import { commandsFor, eventEnv, parseRules, type UdevEvent } from './udev-rules.js';

/**
 * The simulated udevd: events are files in a queue directory (so every process on the
 * simulated host shares one queue), processed in seqnum order under a lock, each after the
 * configured delay, running the RUN commands of the rule file with udevd's substitutions.
 */
export interface QueuedEvent extends UdevEvent {
  queuedAt: number;
}

export interface UdevRun {
  argv: string[];
  program: string;
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface UdevLogRecord {
  seqnum: number;
  action: string;
  subsystem: string;
  kernel: string;
  /** Whether /dev/<kernel> existed when udevd processed the event. */
  nodeExisted: boolean;
  runs: UdevRun[];
  ranAt: number;
}

const SEQ_WIDTH = 16;

export function enqueue(l: SimLayout, seqnum: number, ev: SimUevent, now = Date.now()): void {
  fs.mkdirSync(l.queue, { recursive: true });
  const q: QueuedEvent = { ...ev, seqnum, queuedAt: now };
  writeAtomic(path.join(l.queue, `${String(seqnum).padStart(SEQ_WIDTH, '0')}.json`), JSON.stringify(q));
}

export function pendingEvents(l: SimLayout): QueuedEvent[] {
  let names: string[];
  try {
    names = fs.readdirSync(l.queue);
  } catch {
    return [];
  }
  const out: QueuedEvent[] = [];
  for (const n of names.filter((x) => /^\d+\.json$/.test(x)).sort()) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(l.queue, n), 'utf8')) as QueuedEvent);
    } catch {
      // removed by a concurrent drain
    }
  }
  return out;
}

/** The repository root (where udev/ lives), found from this module's location. */
export function repoRoot(): string | null {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'nvmf-registry') return d;
    } catch {
      // keep walking up
    }
    const up = path.dirname(d);
    if (up === d) return null;
    d = up;
  }
}

function rulesFileOf(cfg: SimConfig): string | null {
  if (cfg.udev.rulesFile) return cfg.udev.rulesFile;
  const root = repoRoot();
  return root ? path.join(root, 'udev', '70-nvmf-registry.rules') : null;
}

/** An installed path udevd would run, or the repository's copy when it is not installed. */
export function mapProgram(argv0: string, cfg: SimConfig): string {
  const mapped = cfg.udev.programs[argv0];
  if (mapped) return mapped;
  if (path.isAbsolute(argv0) && fs.existsSync(argv0)) return argv0;
  const root = repoRoot();
  if (root) {
    const local = path.join(root, 'udev', path.basename(argv0));
    if (fs.existsSync(local)) return local;
  }
  return argv0;
}

function runOne(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<UdevRun> {
  return new Promise((resolve) => {
    const child = spawn('sh', [program, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 4096) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    // udevd kills RUN programs after its event timeout; ours is shorter, tests must not hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({
        argv: [program, ...args],
        program,
        status: null,
        signal: null,
        stdout,
        stderr: stderr + String(e),
      });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ argv: [program, ...args], program, status, signal, stdout, stderr });
    });
  });
}

async function processEvent(
  l: SimLayout,
  cfg: SimConfig,
  roots: Roots,
  ev: QueuedEvent,
): Promise<UdevLogRecord> {
  const file = rulesFileOf(cfg);
  const rules = file && fs.existsSync(file) ? parseRules(fs.readFileSync(file, 'utf8'), file) : [];
  const nodeExisted = fs.existsSync(path.join(l.dev, ev.kernel));
  const runs: UdevRun[] = [];
  for (const argv of commandsFor(rules, ev)) {
    const [argv0, ...args] = argv;
    if (!argv0) continue;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      ...eventEnv(ev),
      NVMF_REGISTRY_ROOT: roots.registry,
      NVMF_DEV_ROOT: roots.dev,
      NVMF_SYSFS_ROOT: roots.sysfs,
    };
    // where this host's audit records go (a real udevd passes nothing: the helper's defaults)
    for (const k of ['NVMF_AUDIT_SINK', 'NVMF_AUDIT_FILE']) if (process.env[k]) env[k] = process.env[k];
    runs.push(await runOne(mapProgram(argv0, cfg), args, env));
  }
  return {
    seqnum: ev.seqnum,
    action: ev.action,
    subsystem: ev.subsystem,
    kernel: ev.kernel,
    nodeExisted,
    runs,
    ranAt: Date.now(),
  };
}

/**
 * Process queued events in order. `wait`: sleep until each is due (settle); otherwise stop at
 * the first not yet due and return its due time. `ignoreDelay` processes everything now.
 */
export async function drain(
  l: SimLayout,
  roots: Roots,
  o: { wait: boolean; ignoreDelay?: boolean },
): Promise<{ processed: number; nextDue: number | null }> {
  return withDirLock(
    l.udevLock,
    async () => {
      let processed = 0;
      for (;;) {
        const cfg = readConfig(l);
        const [ev] = pendingEvents(l);
        if (!ev) return { processed, nextDue: null };
        const due = ev.queuedAt + cfg.udev.delayMs;
        const ignore = o.ignoreDelay || cfg.udev.mode === 'manual';
        if (!ignore && due > Date.now()) {
          if (!o.wait) return { processed, nextDue: due };
          await new Promise((r) => setTimeout(r, due - Date.now()));
          continue;
        }
        const rec = await processEvent(l, cfg, roots, ev);
        fs.rmSync(path.join(l.queue, `${String(ev.seqnum).padStart(SEQ_WIDTH, '0')}.json`), { force: true });
        fs.appendFileSync(l.udevLog, `${JSON.stringify(rec)}\n`);
        processed++;
      }
    },
    { timeoutMs: 120_000, staleMs: 60_000 },
  );
}

export function readUdevLog(l: SimLayout): UdevLogRecord[] {
  try {
    return fs
      .readFileSync(l.udevLog, 'utf8')
      .split('\n')
      .filter((x) => x !== '')
      .map((x) => JSON.parse(x) as UdevLogRecord);
  } catch {
    return [];
  }
}
