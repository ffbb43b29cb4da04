import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishHooks } from '../../src/registry/registry.js';
import { type Sandbox, sandbox } from './helpers.js';

/**
 * DESIGN §4 race 5, lock-less removers: create() publishes its entry whatever a writer that
 * takes no lock does to the entry's name between create's lstat and its rename.
 */
const upstreamRule = path.resolve(import.meta.dirname, '../fixtures/upstream-rule/cleanup.sh');

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => {
  delete publishHooks.beforeRename;
  sb.cleanup();
});

/** Names under the root other than entries and the boot id stamp: temp and trash leftovers. */
function leftovers(): string[] {
  return fs.readdirSync(sb.root).filter((n) => n.startsWith('.nvme'));
}

/** upstream's one-line rule for the remove event of `device` with this SEQNUM (no lock). */
function runUpstreamRule(device: string, seqnum: number): void {
  execFileSync('sh', [upstreamRule, device, String(seqnum)], {
    env: { PATH: process.env['PATH'], NVMF_REGISTRY_ROOT: sb.root, NVMF_DEV_ROOT: sb.dev },
  });
}

describe('create() against lock-less writers (forced interleaving)', () => {
  it("publishes when upstream's rule removes the old entry between the lstat and the rename", () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: 'old', seqnum: 10 });
    const attempts: number[] = [];
    publishHooks.beforeRename = (device, attempt) => {
      attempts.push(attempt);
      // the old controller's remove event, late: no node, SEQNUM newer than the stamp
      if (attempt === 1) runUpstreamRule(device, 11);
    };
    const entry = reg.create('nvme0', { owner: 'new', seqnum: 20 });
    expect(attempts).toEqual([1, 2]);
    expect(entry).toMatchObject({ owner: 'new', seqnum: 20 });
    expect(reg.read('nvme0')).toMatchObject({ owner: 'new', seqnum: 20 });
    expect(leftovers()).toEqual([]);
    // nothing was there to replace when it was published
    expect(sb.events.at(-1)).toMatchObject({ action: 'entry-created', owner: 'new' });
    expect(sb.events.at(-1)).not.toHaveProperty('prevOwner');
  });

  it('publishes when a hand rm -rf and a lock-less creator change the name on each of three attempts', () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: 'old', seqnum: 10 });
    const dir = path.join(sb.root, 'nvme0');
    const attempts: number[] = [];
    publishHooks.beforeRename = (_device, attempt) => {
      attempts.push(attempt);
      if (attempt > 3) return;
      // the opposite of what this attempt's lstat saw: the entry it found goes, or one appears
      if (fs.existsSync(dir)) execFileSync('rm', ['-rf', dir]);
      else {
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'owner'), 'other\n');
      }
    };
    reg.create('nvme0', { owner: 'new', seqnum: 20 });
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(reg.read('nvme0')).toMatchObject({ owner: 'new', seqnum: 20 });
    expect(leftovers()).toEqual([]);
  });

  it('publishes over an entry a lock-less writer created after the lstat found none', () => {
    const reg = sb.open();
    const dir = path.join(sb.root, 'nvme0');
    publishHooks.beforeRename = (_device, attempt) => {
      if (attempt === 1) {
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'owner'), 'libnvme\n');
      }
    };
    reg.create('nvme0', { owner: 'new', seqnum: 20 });
    expect(reg.read('nvme0')).toMatchObject({ owner: 'new', seqnum: 20 });
    expect(sb.events.at(-1)).toMatchObject({ action: 'entry-created', prevOwner: 'libnvme' });
    expect(leftovers()).toEqual([]);
  });

  it('gives up with EIO, leaving no temp directory, when the name keeps changing', () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: 'old', seqnum: 10 });
    const dir = path.join(sb.root, 'nvme0');
    let calls = 0;
    publishHooks.beforeRename = () => {
      calls++;
      // always the opposite of what the lstat just saw: an entry goes, or one appears
      if (fs.existsSync(dir)) {
        fs.rmSync(dir, { recursive: true });
      } else {
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'owner'), 'other\n');
      }
    };
    let code: string | undefined;
    try {
      reg.create('nvme0', { owner: 'new', seqnum: 20 });
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('EIO');
    expect(calls).toBe(16);
    expect(leftovers()).toEqual([]);
  });
});

describe('create() beside a lock-less remover process', () => {
  it(
    'never fails in 2000 creates while rm -rf of the entry loops in another process',
    {
      timeout: 180_000,
    },
    async () => {
      const reg = sb.open();
      reg.create('nvme0', { owner: 'a', seqnum: 1 });
      const dir = path.join(sb.root, 'nvme0');
      const stop = path.join(sb.base, 'stop');
      const ready = path.join(sb.base, 'ready');
      const remover = spawn(
        'sh',
        [
          '-c',
          'n=0; : >"$3"; while [ ! -e "$2" ]; do rm -rf "$1" 2>/dev/null; n=$((n+1)); done; echo "$n"',
          'remover',
          dir,
          stop,
          ready,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      remover.stdout.on('data', (d) => (out += d));
      const exited = new Promise((r) => remover.once('exit', r));
      try {
        for (let i = 0; i < 600 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
        expect(fs.existsSync(ready)).toBe(true);
        let retries = 0;
        publishHooks.beforeRename = (_device, attempt) => {
          if (attempt > 1) retries++;
        };
        const failures: string[] = [];
        for (let i = 0; i < 2000; i++) {
          try {
            reg.create('nvme0', { owner: i % 2 === 0 ? 'a' : 'b', seqnum: i + 2 });
          } catch (e) {
            failures.push(String(e));
          }
        }
        fs.writeFileSync(stop, '');
        await exited;
        console.log(`2000 creates beside rm -rf: ${retries} publish retries, ${out.trim()} removals`);
        expect(failures).toEqual([]);
        expect(Number(out.trim())).toBeGreaterThan(0);
      } finally {
        fs.writeFileSync(stop, '');
        await exited;
      }
      // rm -rf may have been inside the old entry as it was swapped out: whatever it left, the
      // purge finished
      expect(leftovers()).toEqual([]);
    },
  );
});
