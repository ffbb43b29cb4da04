/**
 * Writers killed with SIGKILL at random points of create / claim / delete, while a reader in
 * another process checks every entry it sees through read() and list(). Invariants: no reader
 * ever sees a partial entry or an error; after each wave of kills gc sweeps every leftover, and
 * what remains of each entry is whole.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Registry } from '../../../src/registry/registry.js';
import { bundleRegistry } from '../../registry/helpers.js';
import { type Part, Violations } from '../part.js';

const workers = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'workers');
const LANES = 8;

/** One CommonJS file of the registry: a writer starts in a fraction of the time of the ES build. */
let bundle = '';

function start(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(workers, script), bundle, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

function firstLine(p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    p.on('exit', (code) => reject(new Error(`worker exited ${code} before it spoke`)));
  });
}

export const kills: Part = {
  name: 'kills',
  about: `SIGKILL of ${LANES} writers at a time at random points, a concurrent reader checks every entry`,
  async run(deadline, log) {
    const v = new Violations();
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-torture-kills-'));
    const root = path.join(base, 'registry');
    fs.mkdirSync(root);
    bundle = bundleRegistry(base);
    const devices = Array.from({ length: LANES }, (_, i) => `nvme${i}`);
    const gcReg = (
      createRequire(import.meta.url)(path.join(workers, 'open.cjs')) as {
        openRegistry(b: string, r: string): Registry;
      }
    ).openRegistry(bundle, root);
    gcReg.create('nvme0', { owner: 'killer', seqnum: 0 });
    const reader = start('entry-reader.cjs', [root, ...devices]);
    const readerDone = firstLine(reader);
    let killed = 0;
    let withLeftovers = 0;
    try {
      while (Date.now() < deadline) {
        await Promise.all(
          devices.map(async (dev) => {
            const w = start('kill-writer.cjs', [root, dev]);
            const exited = new Promise((r) => w.once('exit', r));
            await firstLine(w);
            await new Promise((r) => setTimeout(r, Math.random() * 10));
            w.kill('SIGKILL');
            await exited;
            killed++;
          }),
        );
        // Every writer of this wave is dead: whatever it left is debris for gc.
        const report = gcReg.gc({ graceMs: 0 });
        if (report.removed.length > 0) withLeftovers++;
        const left = fs.readdirSync(root).filter((n) => /\.(tmp|trash)\./.test(n));
        if (left.length > 0) v.add(`gc left ${left.join(', ')}`);
        for (const dev of devices) {
          const e = gcReg.read(dev);
          if (e && (e.owner !== 'killer' || e.seqnum === null))
            v.add(`after gc ${dev} is partial: ${JSON.stringify(e)}`);
        }
        if (killed % 400 === 0) log(`${killed} kills`);
      }
    } finally {
      reader.stdin?.write('stop\n');
    }
    const stats = JSON.parse(await readerDone) as {
      reads: number;
      lists: number;
      seen: number;
      partial: number;
      errors: number;
      firstBad: string | null;
    };
    if (stats.partial > 0 || stats.errors > 0)
      v.add(
        `reader saw ${stats.partial} partial entries and ${stats.errors} errors; first: ${stats.firstBad}`,
      );
    if (stats.seen === 0) v.add('the reader never saw an entry: the part checked nothing');
    fs.rmSync(base, { recursive: true, force: true });
    return {
      counts: {
        kills: killed,
        'waves with debris for gc': withLeftovers,
        'reader reads': stats.reads,
        'reader lists': stats.lists,
        'entries checked': stats.seen,
        'partial entries': stats.partial,
        'reader errors': stats.errors,
      },
      violations: v.result(),
    };
  },
};
