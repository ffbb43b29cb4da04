import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from '../src/registry/index.js';
import type { BenchModule, BenchResult } from './run.js';
import { pairedMedians, timeIt } from './run.js';

/**
 * The cost of safety: each registry operation against a floor doing the same visible work
 * by hand (mkdir, write, rename; readdir, read) with no validation, locking or checks.
 */
/**
 * The registry lives on tmpfs (/run) in production. /dev/shm is tmpfs too, so the figures
 * measure what a host pays; a disk-backed temp dir would add the file system's own cost
 * (an ext4 rmdir with online discard costs hundreds of µs) to ours and the floor alike.
 */
export function benchBaseDir(): { dir: string; fs: string } {
  if (fs.existsSync('/dev/shm')) return { dir: '/dev/shm', fs: 'tmpfs /dev/shm' };
  return { dir: os.tmpdir(), fs: `${os.tmpdir()} (no /dev/shm)` };
}

function run(): BenchResult[] {
  const where = benchBaseDir();
  const base = fs.mkdtempSync(path.join(where.dir, 'nvmf-bench-'));
  try {
    const root = path.join(base, 'registry');
    const floorRoot = path.join(base, 'floor');
    fs.mkdirSync(floorRoot);
    const reg = Registry.open({
      roots: { registry: root, dev: base, sysfs: base },
      env: {},
      audit: { record() {} },
      deviceNodeExists: () => true,
      readSeqnum: () => 1,
    });
    const N = 2000;

    const floorCreateDelete = (i: number): void => {
      const tmp = path.join(floorRoot, `.nvme1.tmp.${i}`);
      const dir = path.join(floorRoot, 'nvme1');
      fs.mkdirSync(tmp);
      fs.writeFileSync(path.join(tmp, 'owner'), 'stas\n');
      fs.writeFileSync(path.join(tmp, 'seqnum'), `${i}\n`);
      fs.renameSync(tmp, dir);
      const trash = path.join(floorRoot, `.nvme1.trash.${i}`);
      fs.renameSync(dir, trash);
      fs.rmSync(trash, { recursive: true });
    };
    const libCreateDelete = (i: number): void => {
      reg.create('nvme1', { owner: 'stas', seqnum: i });
      reg.delete('nvme1');
    };
    const cd = pairedMedians(
      7,
      () => timeIt(N, floorCreateDelete),
      () => timeIt(N, libCreateDelete),
    );
    const createFloor = cd.floor;
    const create = cd.ours;

    reg.create('nvme2', { owner: 'stas', seqnum: 7 });
    reg.setAttr('nvme2', 'note', 'x');
    fs.cpSync(path.join(root, 'nvme2'), path.join(floorRoot, 'nvme2'), { recursive: true });
    const floorRead = (): void => {
      const dir = path.join(floorRoot, 'nvme2');
      for (const n of fs.readdirSync(dir)) fs.readFileSync(path.join(dir, n), 'utf8');
    };
    const rd = pairedMedians(
      7,
      () => timeIt(N, floorRead),
      () => timeIt(N, () => reg.read('nvme2')),
    );
    const readFloor = rd.floor;
    const read = rd.ours;

    for (let i = 0; i < 1000; i++) {
      reg.create(`nvme${i + 10}`, { owner: `o${i}`, seqnum: i });
      fs.cpSync(path.join(root, `nvme${i + 10}`), path.join(floorRoot, `nvme${i + 10}`), { recursive: true });
    }
    const floorList = (): void => {
      for (const e of fs.readdirSync(floorRoot)) {
        const dir = path.join(floorRoot, e);
        for (const n of fs.readdirSync(dir)) fs.readFileSync(path.join(dir, n), 'utf8');
      }
    };
    const ls = pairedMedians(
      9,
      () => timeIt(3, floorList),
      () => timeIt(3, () => reg.list()),
    );
    const listFloor = ls.floor;
    const list = ls.ours;

    return [
      {
        name: 'create+delete entry',
        usPerOp: create,
        floorUsPerOp: createFloor,
        target: '<= 1.5x floor',
        met: create <= 1.5 * createFloor,
      },
      { name: 'read entry', usPerOp: read, floorUsPerOp: readFloor },
      {
        name: 'list 1000 entries',
        usPerOp: list,
        floorUsPerOp: listFloor,
        target: '<= 20 ms',
        met: list <= 20_000,
      },
    ];
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

export const registryBench: BenchModule = { name: `registry (on ${benchBaseDir().fs})`, run };
