/**
 * Lock takeover torture (issue 11 point 1, DESIGN §4 race 6): a holder takes a device's lock
 * and is SIGKILLed while holding it; three contender processes, all already waiting for the
 * lock, race for it. Each winner makes an exclusive marker directory inside its critical
 * section, so two contenders inside at once show up as a double win. One round = one forced
 * takeover (and two handoffs under contention right after it).
 *
 * Modes: `lib` = three library contenders (sync, async, sync); `mixed` = two library
 * contenders (sync, async) and the udev helper's own take_lock, so the library and the shell
 * helper are shown to exclude each other.
 *
 * As a script: `tsx test/torture/lock-takeover.ts [--count N] [--mode lib|mixed]` prints
 * `{"takeovers":N,"doubleWins":0,"errors":0,"leftoverLocks":0}` and exits 1 on any violation.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { lockPath } from '../../src/registry/lock.js';
import { bundleRegistry } from '../registry/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const HELPER = path.resolve(here, '..', '..', 'udev', 'nvmf-registry-cleanup');
const DEVICE = 'nvme7';
/** Bound of any one wait for a step of a round; far beyond any step's real time. */
const STEP_TIMEOUT_MS = 60_000;

export interface TakeoverCounts {
  takeovers: number;
  doubleWins: number;
  /** Contender errors (lock timeouts, EIO): none are expected. */
  errors: number;
  /** Rounds after which a lock file was left (every holder unlinks its file on release). */
  leftoverLocks: number;
  errorSamples?: string[];
}

export interface TakeoverOptions {
  count: number;
  mode?: 'lib' | 'mixed';
  /** Stop early once this time has passed (torture runs by time). */
  deadline?: number;
}

/** A child speaking one line at a time. */
class Lines {
  private buf: string[] = [];
  private waiter: (() => void) | null = null;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      this.buf.push(l);
      this.waiter?.();
    });
    child.once('exit', () => this.waiter?.());
  }
  async next(what: string): Promise<string> {
    const limit = Date.now() + STEP_TIMEOUT_MS;
    while (this.buf.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`${what}: contender exited`);
      if (Date.now() > limit) throw new Error(`${what}: no line within ${STEP_TIMEOUT_MS} ms`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 1000);
      });
      this.waiter = null;
    }
    return this.buf.shift() as string;
  }
}

/** How many flock(1) processes, children of `parents`, wait blocked in the kernel (/proc/locks). */
function blockedShellWaiters(parents: Set<number>): number {
  let n = 0;
  for (const line of fs.readFileSync('/proc/locks', 'utf8').split('\n')) {
    const m = /^\d+: -> FLOCK\s+\S+\s+\S+\s+(\d+) /.exec(line);
    if (m === null) continue;
    try {
      const stat = fs.readFileSync(`/proc/${m[1]}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parents.has(ppid)) n++;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const limit = Date.now() + STEP_TIMEOUT_MS;
  while (!cond()) {
    if (Date.now() > limit) throw new Error(`${what}: not within ${STEP_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export async function runLockTakeover(opts: TakeoverOptions): Promise<TakeoverCounts> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-lock-torture-'));
  const root = path.join(base, 'registry');
  const shared = path.join(base, 'shared');
  fs.mkdirSync(root);
  fs.mkdirSync(shared);
  const bundle = bundleRegistry(base);
  const lib = (mode: string) =>
    spawn(process.execPath, [path.join(here, 'lock-contender.cjs'), bundle, root, DEVICE, shared, mode]);
  const sh = () =>
    spawn('dash', [path.join(here, 'lock-contender.sh'), HELPER, root, DEVICE, shared], {
      env: { ...process.env, NVMF_TEST_LOCK_BUDGET_MS: '10000' },
    });
  const kinds: Array<'sync' | 'async' | 'sh'> =
    (opts.mode ?? 'lib') === 'lib' ? ['sync', 'async', 'sync'] : ['sync', 'async', 'sh'];
  const children = kinds.map((k) => (k === 'sh' ? sh() : lib(k)));
  const lines = children.map((c) => new Lines(c));
  const shellPids = new Set(children.filter((_, i) => kinds[i] === 'sh').map((c) => c.pid as number));
  const counts: TakeoverCounts = { takeovers: 0, doubleWins: 0, errors: 0, leftoverLocks: 0 };
  const samples: string[] = [];
  const lp = lockPath(root, DEVICE);
  try {
    for (let i = 0; i < opts.count; i++) {
      if (opts.deadline !== undefined && Date.now() > opts.deadline) break;
      // The holder: takes the flock the way the helper does, says so, and stays until killed.
      const holder = spawn('dash', [
        '-c',
        'exec 9<>"$1" && flock 9 && echo held && exec sleep 600',
        'sh',
        lp,
      ]);
      const held = new Lines(holder as ChildProcessWithoutNullStreams);
      const gone = new Promise((r) => holder.once('exit', r));
      // A contender's result line, when it came before the holder died.
      const early: Array<string | undefined> = [];
      try {
        if ((await held.next('holder')) !== 'held') throw new Error('holder did not take the lock');
        for (const c of children) c.stdin.write('go\n');
        // Every contender must be waiting before the holder dies: library ones say so from
        // their first refused attempt, shell ones are seen blocked in flock(2).
        for (const [k, l] of lines.entries()) {
          const line = await l.next('contender start');
          if (line !== (kinds[k] === 'sh' ? 'trying' : 'busy')) early[k] = line;
        }
        if (shellPids.size > 0)
          await until('shell contenders blocked', () => blockedShellWaiters(shellPids) === shellPids.size);
      } finally {
        holder.kill('SIGKILL');
        await gone;
      }
      counts.takeovers++;
      for (const [k, l] of lines.entries()) {
        const out = early[k] ?? (await l.next('contender result'));
        // Inside while the holder was alive is a double win too.
        if (out === 'double' || (out === 'won' && early[k] !== undefined)) counts.doubleWins++;
        else if (out !== 'won') {
          counts.errors++;
          if (samples.length < 5) samples.push(out);
        }
      }
      if (fs.existsSync(lp)) {
        counts.leftoverLocks++;
        fs.unlinkSync(lp);
      }
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(base, { recursive: true, force: true });
  }
  if (samples.length > 0) counts.errorSamples = samples;
  return counts;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const count = Number(arg('--count') ?? '1000');
  const mode = (arg('--mode') ?? 'lib') as 'lib' | 'mixed';
  if (!Number.isSafeInteger(count) || count < 1 || (mode !== 'lib' && mode !== 'mixed')) {
    process.stderr.write('usage: lock-takeover.ts [--count N] [--mode lib|mixed]\n');
    process.exit(2);
  }
  const counts = await runLockTakeover({ count, mode });
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  process.exit(counts.doubleWins + counts.errors + counts.leftoverLocks === 0 ? 0 : 1);
}
