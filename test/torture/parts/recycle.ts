/**
 * DESIGN §4.1 for as long as asked: the recycled-instance race against the real udev helper.
 *
 * Each round stales a burst of entries (stamp 1000, no device node) and runs the helper for
 * each one's remove event (SEQNUM 1001) under ptrace with every file syscall delayed, so every
 * step of its check-then-act window is stalled. Meanwhile the registry library recreates some
 * of those instances (node back and a new entry stamped 1002, or only the new entry) at random
 * moments across the helpers' run. Invariants for our helper: a recreated (live) entry always
 * survives, a stale one always goes, the library writer never fails. Upstream's one-line rule
 * runs through the same rounds as the control: it must lose live entries, which shows that the
 * harness does put writers inside the window.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from '../../../src/registry/registry.js';
import { BATCH_DRIVER, FAKE_LOGGER, HELPER, parseRecords, sandbox, UPSTREAM } from '../../udev/harness.js';
import { type Part, Violations } from '../part.js';

const STALE_STAMP = 1000;
const REMOVE_EVENT = 1001;
const NEW_STAMP = 1002;
const BATCH = 96;

type Kind = 'node+entry' | 'entry-only' | null;

/** Most devices are recycled (the race under test); one in five stays stale (it must go). */
function kindOf(r: number): Kind {
  return r < 0.55 ? 'node+entry' : r < 0.8 ? 'entry-only' : null;
}

function runDriver(
  script: string,
  out: string,
  delayUs: number,
  devs: string[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [BATCH_DRIVER, script, out, String(REMOVE_EVENT), '', ...devs], {
      env: { ...env, NVMF_TEST_STALL_US: String(delayUs) },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`batch.sh exited ${code}`))));
  });
}

interface Tally {
  rounds: number;
  runs: number;
  recycled: number;
  liveLost: number;
  staleLeft: number;
  writerErrors: number;
}

/**
 * One round; returns how long the helpers' batch ran (the next round's writers spread over
 * that). Not the round's own length: writers wait up to the estimate, so learning from it
 * would only ever grow.
 */
async function round(script: string, t: Tally, v: Violations, estimateMs: number): Promise<number> {
  const ours = script === HELPER;
  const sb = sandbox('nvmf-torture-recycle-');
  let driverMs = estimateMs;
  try {
    const reg = Registry.open({
      roots: { registry: sb.registry, dev: sb.dev, sysfs: path.join(sb.dir, 'sys') },
      audit: { record() {} },
    });
    const devs = Array.from({ length: BATCH }, (_, j) => `nvme${j}`);
    const kinds = devs.map(() => kindOf(Math.random()));
    for (const [j, dev] of devs.entries()) reg.create(dev, { owner: `old-${j}`, seqnum: STALE_STAMP });
    const out = fs.mkdtempSync(path.join(sb.dir, 'out-'));
    const delayUs = 100 + Math.floor(Math.random() * 1400);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NVMF_REGISTRY_ROOT: sb.registry,
      NVMF_DEV_ROOT: sb.dev,
      NVMF_LOGGER: FAKE_LOGGER,
      // Where the helper falls back to when the logger fails (never the host's own file).
      NVMF_AUDIT_FILE: path.join(out, 'audit.jsonl'),
    };
    const started = Date.now();
    const done = runDriver(script, out, delayUs, devs, env).then(() => {
      driverMs = Date.now() - started;
    });
    // Writers act uniformly across the helpers' expected run time (learnt from earlier rounds).
    await Promise.all(
      kinds.map((k, j) =>
        k === null
          ? undefined
          : new Promise<void>((resolve) =>
              setTimeout(() => {
                const dev = devs[j] as string;
                if (k === 'node+entry') sb.node(dev);
                try {
                  reg.create(dev, { owner: `new-${j}`, seqnum: NEW_STAMP });
                } catch (e) {
                  t.writerErrors++;
                  v.add(`${path.basename(script)}: library create of ${dev} failed: ${(e as Error).message}`);
                }
                resolve();
              }, Math.random() * estimateMs),
            ),
      ),
    );
    await done;
    t.rounds++;
    let audited: Record<string, string>[] = [];
    try {
      audited = fs
        .readFileSync(path.join(out, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string>);
    } catch {
      // no fallback record: the usual case
    }
    for (const [j, dev] of devs.entries()) {
      t.runs++;
      let rc: string;
      try {
        rc = fs.readFileSync(path.join(out, `rc.${dev}`), 'utf8').trim();
      } catch {
        rc = 'unknown';
      }
      if (rc !== '0') v.add(`${path.basename(script)} ${dev}: exit ${rc}`);
      const e = reg.read(dev);
      if (kinds[j] !== null) {
        t.recycled++;
        if (e === null || e.owner !== `new-${j}` || e.seqnum !== NEW_STAMP) {
          t.liveLost++;
          if (ours) v.add(`live entry ${dev} lost or changed (${JSON.stringify(e)}), delay ${delayUs} us`);
        }
      } else if (e !== null) {
        t.staleLeft++;
        if (ours) v.add(`stale entry ${dev} left (${JSON.stringify(e)})`);
      }
      if (ours) {
        const read = (name: string): string => {
          try {
            return fs.readFileSync(path.join(out, `${name}.${dev}`), 'utf8');
          } catch {
            return '';
          }
        };
        // The fake logger's record, or the audit file's when the helper had to fall back to it.
        const fallback = audited.filter((f) => f.NVMF_DEVICE === dev).map((fields) => ({ fields }));
        const records = [...parseRecords(read('log')).map((r) => ({ fields: r.fields })), ...fallback];
        const rec = records[0]?.fields ?? {};
        if (records.length !== 1)
          v.add(
            `${dev}: ${records.length} journal records, expected 1 (exit ${rc}; stderr ${JSON.stringify(read('err').slice(-300))})`,
          );
        else if (kinds[j] !== null) {
          if (rec.NVMF_ACTION === 'udev-removed') inWindow.afterDelete++;
          else if (rec.NVMF_PHASE === 'locked') inWindow.caught++;
          else inWindow.beforeCheck++;
        }
      }
    }
    const left = fs.readdirSync(sb.registry).filter((n) => n.includes('.trash.') || n.includes('.tmp.'));
    if (ours && left.length > 0) v.add(`leftovers after a round: ${left.join(', ')}`);
  } finally {
    sb.cleanup();
  }
  return driverMs;
}

/** Where the writer landed relative to our helper's run (its journal record says). */
const inWindow = { beforeCheck: 0, caught: 0, afterDelete: 0 };

/** strace (Debian's package) does the stalling; as root on a machine without it, install it. */
function ensureStrace(): void {
  if (spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error('strace is not installed (apt-get install strace)');
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', 'strace'],
  ]) {
    const r = spawnSync('apt-get', args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status})`);
  }
}

export const recycle: Part = {
  name: 'recycle',
  about:
    'recycled instance vs the udev helper, every file syscall stalled (ptrace); upstream rule as control',
  async run(deadline, log) {
    ensureStrace();
    const v = new Violations();
    const ours: Tally = { rounds: 0, runs: 0, recycled: 0, liveLost: 0, staleLeft: 0, writerErrors: 0 };
    const up: Tally = { rounds: 0, runs: 0, recycled: 0, liveLost: 0, staleLeft: 0, writerErrors: 0 };
    let estimate = 300;
    // Until the deadline, and past it (bounded) until both have been seen: the control losing
    // an entry, and a writer caught in our helper's window. A short run (CI's) must show both.
    const shown = (): boolean => up.liveLost > 0 && inWindow.caught > 0;
    const limit = deadline + 300_000;
    for (let i = 0; Date.now() < deadline || (!shown() && Date.now() < limit); i++) {
      // One round in eight is the control, and every other round while its loss is still unseen.
      const control = up.liveLost === 0 && Date.now() >= deadline ? i % 2 === 1 : i % 8 === 1;
      const ms = await round(control ? UPSTREAM : HELPER, control ? up : ours, v, estimate);
      estimate = 0.8 * estimate + 0.2 * ms;
      if (i % 50 === 49)
        log(`${ours.recycled} recycled so far, ${ours.liveLost} lost; control lost ${up.liveLost}`);
    }
    if (up.liveLost === 0) {
      v.add(
        `the upstream rule lost nothing in ${up.recycled} recycled cases: the harness did not force the window`,
      );
    }
    if (ours.recycled > 0 && inWindow.caught === 0) {
      v.add(
        `no recycled case landed in our helper's window (caught under the lock): the stall did not force it`,
      );
    }
    return {
      counts: {
        'helper runs': ours.runs,
        'forced recycling races': ours.recycled,
        'caught in the window': inWindow.caught,
        'before the check': inWindow.beforeCheck,
        'after the delete': inWindow.afterDelete,
        'live entries lost': ours.liveLost,
        'stale left': ours.staleLeft,
        'writer errors': ours.writerErrors,
        'upstream rule recycled': up.recycled,
        'upstream rule lost': up.liveLost,
        'upstream writer errors': up.writerErrors,
      },
      violations: v.result(),
    };
  },
};
