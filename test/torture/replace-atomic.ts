/**
 * Is replacing an entry atomic for readers that take no lock (DESIGN §4 race 5)? A replacer
 * process replaces one entry over and over; this process reads it meanwhile with read() and
 * list(), which take no lock, and counts every read that finds it absent or partial.
 *
 *   node --import tsx test/torture/replace-atomic.ts [--reads N] [--seconds S] [--replacer create|plain]
 *
 * `create` (default) replaces with Registry.create(); `plain` with the two renames of a
 * replacement without exchange (old entry to a trash name, new one into place), the control
 * that shows the reader does meet the window. Stops after N reads (default 100,000) or S
 * seconds, whichever comes first, and prints one JSON line:
 *   {"replacer":"create","reads":N,"absent":0,"partial":0,"errors":0,"replaces":M}
 * `errors`: reads that threw (an NvmfError, e.g. an entry replaced during every one of a
 * read's attempts); not absences. Exits 1 when `create` showed any absent or partial entry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../../src/registry/index.js';

export type Replacer = 'create' | 'plain';

export interface ReplaceAtomicCounts {
  replacer: Replacer;
  reads: number;
  absent: number;
  partial: number;
  errors: number;
  replaces: number;
}

const DEVICE = 'nvme0';
const self = fileURLToPath(import.meta.url);

function openRegistry(base: string): Registry {
  return Registry.open({
    roots: {
      registry: path.join(base, 'registry'),
      dev: path.join(base, 'dev'),
      sysfs: path.join(base, 'sys'),
    },
    env: {},
    audit: { record() {} },
    host: { deviceNodeExists: () => true, ueventSeqnum: () => 1, bootId: () => null },
  });
}

/** Run one reader against one replacer process; resolves with the counts. */
export async function replaceAtomic(o: {
  reads: number;
  seconds?: number;
  replacer: Replacer;
}): Promise<ReplaceAtomicCounts> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-replace-'));
  const stop = path.join(base, 'stop');
  let child: ChildProcess | null = null;
  try {
    const reg = openRegistry(base);
    reg.create(DEVICE, { owner: 'a', seqnum: 1 });
    child = spawn(process.execPath, [...process.execArgv, self, '--role', 'replacer', base, o.replacer], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = readLines(child);
    const first = await lines.next();
    if (first.value !== 'ready') throw new Error(`replacer did not start: ${String(first.value)}`);
    const counts = { replacer: o.replacer, reads: 0, absent: 0, partial: 0, errors: 0, replaces: 0 };
    const deadline = o.seconds === undefined ? Infinity : Date.now() + o.seconds * 1000;
    while (counts.reads < o.reads && (counts.reads % 256 !== 0 || Date.now() < deadline)) {
      counts.reads++;
      try {
        let entry;
        if (counts.reads % 2 === 0) {
          entry = reg.read(DEVICE);
        } else {
          const { live, stale } = reg.list();
          entry = live.find((e) => e.device === DEVICE) ?? stale.find((e) => e.device === DEVICE) ?? null;
        }
        if (entry === null) counts.absent++;
        else if (entry.error !== undefined || entry.owner === null || entry.seqnum === null) counts.partial++;
      } catch {
        counts.errors++;
      }
    }
    fs.writeFileSync(stop, '');
    const last = await lines.next();
    counts.replaces = (JSON.parse(String(last.value)) as { replaces: number }).replaces;
    return counts;
  } finally {
    if (child !== null && child.exitCode === null) {
      fs.writeFileSync(stop, '');
      await new Promise((r) => child!.once('exit', r));
    }
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function* readLines(p: ChildProcess): AsyncGenerator<string> {
  let buf = '';
  for await (const chunk of p.stdout!) {
    buf += String(chunk);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
}

/** The replacer: replace the entry until the stop file exists, then print how often. */
function replacerMain(base: string, mode: Replacer): void {
  const reg = openRegistry(base);
  const root = path.join(base, 'registry');
  const dir = path.join(root, DEVICE);
  const stop = path.join(base, 'stop');
  let n = 0;
  const replace = (): void => {
    n++;
    const owner = n % 2 === 0 ? 'a' : 'b';
    if (mode === 'create') {
      reg.create(DEVICE, { owner, seqnum: n });
      return;
    }
    const tmp = path.join(root, `.${DEVICE}.tmp.${process.pid}.${n}`);
    const trash = path.join(root, `.${DEVICE}.trash.${process.pid}.${n}`);
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'owner'), `${owner}\n`);
    fs.writeFileSync(path.join(tmp, 'seqnum'), `${n}\n`);
    fs.renameSync(dir, trash);
    fs.renameSync(tmp, dir);
    fs.rmSync(trash, { recursive: true });
  };
  replace();
  process.stdout.write('ready\n');
  for (;;) {
    for (let i = 0; i < 16; i++) replace();
    if (fs.existsSync(stop)) break;
  }
  process.stdout.write(`${JSON.stringify({ replaces: n })}\n`);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === self) {
  const args = process.argv.slice(2);
  if (args[0] === '--role') {
    replacerMain(args[2]!, args[3] as Replacer);
  } else {
    const replacer = (flag(args, '--replacer') ?? 'create') as Replacer;
    if (replacer !== 'create' && replacer !== 'plain') throw new Error(`--replacer: create or plain`);
    const seconds = flag(args, '--seconds');
    const counts = await replaceAtomic({
      reads: Number(flag(args, '--reads') ?? (seconds === undefined ? 100_000 : Infinity)),
      ...(seconds !== undefined ? { seconds: Number(seconds) } : {}),
      replacer,
    });
    process.stdout.write(`${JSON.stringify(counts)}\n`);
    if (replacer === 'create' && counts.absent + counts.partial > 0) process.exitCode = 1;
  }
}
