import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import type KoffiModule from 'koffi';
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
      host: { deviceNodeExists: () => true, ueventSeqnum: () => 1, bootId: () => null },
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
    const open = (): Registry =>
      Registry.open({
        roots: { registry: root, dev: base, sysfs: base },
        env: {},
        audit: { record() {} },
        host: { deviceNodeExists: () => true, ueventSeqnum: () => 1, bootId: () => null },
      });
    // A process's first list of a registry (a one-shot command): node:fs.
    const first = pairedMedians(
      9,
      () => timeIt(3, floorList),
      () => timeIt(3, () => open().list()),
    );
    // A long-lived process listing again and again: from the second list on, the libc reader.
    const lister = open();
    const floorLibc = libcListFloor(floorRoot);
    const again = pairedMedians(
      9,
      () => timeIt(3, floorLibc),
      () => timeIt(3, () => lister.list()),
    );
    if (lister.lastListReader !== 'libc') throw new Error(`the repeated list used ${lister.lastListReader}`);
    // A one-shot command: one list in a fresh node process, its code not yet compiled.
    const cold = pairedMedians(
      5,
      () => coldListMs(floorRoot, 'floor') * 1000,
      () => coldListMs(root, 'ours') * 1000,
    );

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
        name: 'list 1000, new Registry',
        usPerOp: first.ours,
        floorUsPerOp: first.floor,
      },
      {
        name: 'list 1000, fresh process',
        usPerOp: cold.ours,
        floorUsPerOp: cold.floor,
      },
      {
        name: 'list 1000, repeated',
        usPerOp: again.ours,
        floorUsPerOp: again.floor,
        target: '<= 20 ms',
        met: again.ours <= 20_000,
      },
    ];
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

export const registryBench: BenchModule = { name: `registry (on ${benchBaseDir().fs})`, run };

/**
 * One list in a new node process, timed inside it around the list alone (start-up is the CLI
 * bench's business): `ours` through Registry, `floor` the node:fs floor.
 */
function coldListMs(root: string, which: 'ours' | 'floor'): number {
  const registry = new URL('../src/registry/index.js', import.meta.url).href;
  const body =
    which === 'ours'
      ? `const { Registry } = await import(${JSON.stringify(registry)});
         const reg = Registry.open({ roots: { registry: ${JSON.stringify(root)}, dev: '/nonexistent', sysfs: '/nonexistent' }, env: {}, audit: { record() {} }, deviceNodeExists: () => true, readSeqnum: () => 1 });
         const t0 = performance.now(); reg.list(); const ms = performance.now() - t0;`
      : `const fs = await import('node:fs'); const path = await import('node:path');
         const t0 = performance.now();
         for (const e of fs.readdirSync(${JSON.stringify(root)})) {
           const dir = path.join(${JSON.stringify(root)}, e);
           for (const n of fs.readdirSync(dir)) fs.readFileSync(path.join(dir, n), 'utf8');
         }
         const ms = performance.now() - t0;`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `${body}\nconsole.log(ms);`], {
    encoding: 'utf8',
  });
  return Number(out.trim());
}

/**
 * The libc reader's floor: the same calls through koffi by hand (per entry open the
 * directory, getdents64 to the end, open/read/close each file, close), no checks.
 */
function libcListFloor(root: string): () => void {
  const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
  const lib = koffi.load('libc.so.6');
  const openat = lib.func('int openat(int dirfd, const char *path, int flags)');
  const read = lib.func('intptr_t read(int fd, void *buf, size_t n)');
  const close = lib.func('int close(int fd)');
  const getdents64 = lib.func('intptr_t getdents64(int fd, void *buf, size_t n)');
  const O_DIRECTORY = 0o200000;
  const O_CLOEXEC = 0o2000000;
  const dents = Buffer.alloc(32 * 1024);
  const names = Buffer.alloc(32 * 1024);
  const data = Buffer.alloc(4097);
  const namesOf = (fd: number, buf: Buffer): string[] => {
    const out: string[] = [];
    for (
      let n = Number(getdents64(fd, buf, buf.length));
      n > 0;
      n = Number(getdents64(fd, buf, buf.length))
    ) {
      for (let off = 0; off < n; off += buf.readUInt16LE(off + 16)) {
        if (buf[off + 19] !== 0x2e) out.push(buf.toString('utf8', off + 19, buf.indexOf(0, off + 19)));
      }
    }
    return out;
  };
  return () => {
    const rootFd = openat(-100, root, O_DIRECTORY | O_CLOEXEC);
    for (const e of namesOf(rootFd, dents)) {
      const d = openat(rootFd, e, O_DIRECTORY | O_CLOEXEC);
      for (const n of namesOf(d, names)) {
        const f = openat(d, n, O_CLOEXEC);
        data.toString('utf8', 0, Number(read(f, data, data.length)));
        close(f);
      }
      close(d);
    }
    close(rootFd);
  };
}
