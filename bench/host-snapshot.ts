import fs from 'node:fs';
import path from 'node:path';
import { mapPool } from '../src/engine/pool.js';
import { SimKernel, simHold, simInit, simMount, simScanSettle } from '../src/kernel/sim.js';
import { alternated, BASE, type Impl, median, ms, timedOnFreshHost } from './impl.js';

/**
 * The host snapshot and the disconnect-all plan made from it (issue 13 item 8): a simulated
 * host of CONTROLLERS fabrics controllers with NAMESPACES namespaces each (one subsystem
 * each, so every controller is the only path of its four heads, the most disks to read) and
 * MOUNTS filesystems mounted on them, a fifth of them through a device-mapper holder. Times
 * `kernel.hostSnapshot()` alone and `planFromHost` (snapshot, intents, registry entries, the
 * ownership rows and the in-use pass: what one `disconnect-all --dry-run` computes), median
 * of RUNS, against the 50 ms target and against the baseline `bareReads`, the same reads of
 * the kernel's files with nothing done with them, in the same run; with NVMF_BENCH_AGAINST
 * the other builds read the same host, alternated with ours. Then the whole plain
 * disconnect-all of such a host (TEARDOWN_RUNS, a fresh host each): the plan, and the
 * re-check under the device lock and the delete of each of its 900 candidates.
 */
const CONTROLLERS = Number(process.env['NVMF_BENCH_CONTROLLERS'] ?? 1000);
const NAMESPACES = 4;
const MOUNTS = 100;
const RUNS = 15;
const TARGET_MS = 50;
/** Runs of the whole disconnect-all per build: each tears the host down, so each builds one. */
const TEARDOWN_RUNS = 3;

export async function buildHost(dir: string): Promise<void> {
  const nqn = (i: number): string => `nqn.2024-01.io.example:snap${i}`;
  await simInit(dir, {
    targets: {
      subsystems: Array.from({ length: CONTROLLERS }, (_, i) => ({
        nqn: nqn(i),
        ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }],
        namespaces: NAMESPACES,
      })),
      discovery: [],
    },
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} } },
  });
  const kernel = new SimKernel({ dir });
  try {
    const made = await mapPool(
      Array.from({ length: CONTROLLERS }, (_, i) => i),
      8,
      (i) => kernel.connect(`nqn=${nqn(i)},transport=tcp,traddr=10.0.0.1,trsvcid=4420`),
    );
    for (const r of made) if (!r.ok) throw r.error;
  } finally {
    kernel.close();
  }
  await simScanSettle(dir, { now: true });
  // Mounts spread over the host: head n1 of every tenth controller; a fifth through dm-N.
  for (let m = 0; m < MOUNTS; m++) {
    const head = `nvme${(m * 10) % CONTROLLERS}n${1 + Math.floor((m * 10) / CONTROLLERS)}`;
    if (m % 5 === 0) {
      await simHold(dir, head, `dm-${m}`);
      await simMount(dir, `dm-${m}`, `/srv/vol${m}`);
    } else {
      await simMount(dir, head, `/data/vol${m}`);
    }
  }
}

/** What every controller's snapshot reads (sysfs.ts reads the same eight). */
const ATTRS = ['transport', 'address', 'subsysnqn', 'hostnqn', 'hostid', 'state', 'cntlid', 'cntrltype'];

/**
 * The baseline: the system calls a snapshot of this host cannot do without, in a bare loop
 * that keeps nothing: list the controllers, open, read and close each one's eight attributes,
 * list the block devices, read mountinfo and swaps. Returns the attributes read.
 */
function bareReads(dir: string): number {
  const buf = Buffer.allocUnsafe(4096);
  const cls = `${dir}/sys/class/nvme`;
  let read = 0;
  for (const d of fs.readdirSync(cls)) {
    for (const a of ATTRS) {
      const fd = fs.openSync(`${cls}/${d}/${a}`, 'r');
      fs.readSync(fd, buf, 0, buf.length, 0);
      fs.closeSync(fd);
      read++;
    }
  }
  fs.readdirSync(`${dir}/sys/block`);
  fs.readFileSync(`${dir}/proc/self/mountinfo`);
  fs.readFileSync(`${dir}/proc/swaps`);
  return read;
}

interface Times {
  snap: number[];
  plan: number[];
  planCpu: number[];
}

/** One snapshot and one plan by `impl`'s build, checked and timed into `t`. */
async function measure(impl: Impl, dir: string, t: Times): Promise<void> {
  const kernel = new impl.sim.SimKernel({ dir });
  const registry = impl.Registry.open({ roots: kernel.roots, audit: { record() {} }, host: kernel });
  try {
    let t0 = performance.now();
    const s = await kernel.hostSnapshot();
    t.snap.push(performance.now() - t0);
    if (Object.keys(s.disks).length !== CONTROLLERS * NAMESPACES || s.unreadable.length > 0)
      throw new Error(
        `${impl.label}: snapshot saw ${Object.keys(s.disks).length} disks, unreadable ${s.unreadable.join('; ')}`,
      );
    const cpu = process.cpuUsage();
    t0 = performance.now();
    const p = await impl.planFromHost({ kernel, registry }, {});
    t.plan.push(performance.now() - t0);
    const used = process.cpuUsage(cpu);
    t.planCpu.push((used.user + used.system) / 1000);
    const skipped = p.filter((x) => x.reason.startsWith('in use: ')).length;
    if (skipped !== MOUNTS)
      throw new Error(`${impl.label}: ${skipped} controllers in use, expected ${MOUNTS}`);
  } finally {
    kernel.close();
  }
}

/** One plain disconnect-all of a freshly built host by `impl`'s build: its wall time, checked. */
function teardown(impl: Impl): Promise<number> {
  return timedOnFreshHost(impl, buildHost, async (ctx) => {
    const { results } = await impl.disconnectAll(ctx, {});
    const ok = results?.filter((r) => r.ok).length ?? 0;
    if (ok !== CONTROLLERS - MOUNTS)
      throw new Error(`${impl.label} disconnected ${ok}, expected ${CONTROLLERS - MOUNTS}`);
  });
}

export async function hostSnapshotBench(impls: Impl[]): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(BASE.dir, 'nvmf-bench-snap-'));
  try {
    const t0 = performance.now();
    await buildHost(dir);
    const built = performance.now() - t0;
    const times = new Map<Impl, Times>(impls.map((i) => [i, { snap: [], plan: [], planCpu: [] }]));
    const bare: number[] = [];
    // Builds and the baseline alternated run by run, so each sees the same load.
    for (let r = 0; r < RUNS; r++) {
      const t1 = performance.now();
      const attrs = bareReads(dir);
      bare.push(performance.now() - t1);
      if (attrs !== CONTROLLERS * ATTRS.length) throw new Error(`bare loop read ${attrs} attributes`);
      for (const impl of r % 2 === 0 ? impls : [...impls].reverse())
        await measure(impl, dir, times.get(impl)!);
    }
    const bareMs = median(bare);
    const out = [
      `host snapshot: ${CONTROLLERS} controllers x ${NAMESPACES} namespaces, ${MOUNTS} mounts (${MOUNTS / 5} through dm holders), sim built in ${ms(built)}; median of ${RUNS}`,
      `  baseline: the same files read in a bare loop (${CONTROLLERS * ATTRS.length} attributes opened, read and closed, /sys/block listed, mountinfo and swaps read): ${ms(bareMs)} (min ${ms(Math.min(...bare))})`,
    ];
    for (const impl of impls) {
      const t = times.get(impl)!;
      const planMs = median(t.plan);
      out.push(
        `  ${impl.label}: kernel.hostSnapshot(): ${ms(median(t.snap))} (min ${ms(Math.min(...t.snap))})`,
        `  ${impl.label}: planFromHost (one snapshot + registry + ownership + in use): ${ms(planMs)} wall (min ${ms(Math.min(...t.plan))}), ${ms(median(t.planCpu))} CPU (min ${ms(Math.min(...t.planCpu))}); ${(planMs / bareMs).toFixed(2)}x the baseline; ${MOUNTS} controllers in use; target < ${TARGET_MS} ms: ${planMs < TARGET_MS ? 'met' : 'NOT met'}`,
      );
    }
    const torn = await alternated(impls, TEARDOWN_RUNS, teardown);
    for (const impl of impls) {
      const t = torn.get(impl)!;
      out.push(
        `  ${impl.label}: disconnect-all of that host (${CONTROLLERS - MOUNTS} deleted, ${MOUNTS} in use), a fresh host each run: ${t.map(ms).join(', ')}`,
      );
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
