/**
 * Facts about the real kernel that the simulated kernel (src/kernel/sim.ts) must reproduce,
 * measured with nothing but /dev/nvme-fabrics, sysfs and udevd: no project code involved, so
 * a failure here is about the kernel or the target, never about the library.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, afterEach, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  attr,
  controllers,
  errnoOf,
  rawConnect,
  rawDelete,
  resetHost,
  seqnum,
  target,
  tcpOptions,
  udevSettle,
} from '../lib/guest.js';

function fact(name: string, value: unknown): void {
  console.log(`kt-fact ${name} ${JSON.stringify(value)}`);
}

before(resetHost);
// A test that fails part-way must not leave its controllers to fail the next one with EALREADY.
afterEach(resetHost);
after(resetHost);

/**
 * Connect, expecting instance `want`. The kernel frees an instance number when the last
 * reference to the controller (or to its subsystem, which shares the first controller's
 * number) is dropped, and that can be a moment after delete_controller has returned. So a
 * different number is deleted again and the connect retried, for up to 3 s; the number of
 * retries is recorded. A number that never comes still fails the caller's assertion.
 */
async function connectExpecting(options: string, want: number, what: string): Promise<number> {
  const deadline = performance.now() + 3000;
  for (let retries = 0; ; retries++) {
    const got = rawConnect(options).instance;
    if (got === want || performance.now() > deadline) {
      if (retries > 0) fact(`instance.late_release.${what}`, { want, got, retries });
      return got;
    }
    rawDelete(`nvme${got}`);
    udevSettle();
    await sleep(50);
  }
}

test('connect replies instance=N,cntlid=M on the same fd; the controller is live at once', () => {
  const r = rawConnect(tcpOptions(target.nqn2));
  const dev = `nvme${r.instance}`;
  fact('connect.reply', r.raw);
  assert.match(r.raw, /^instance=\d+,cntlid=\d+\n$/);
  assert.ok(existsSync(`/dev/${dev}`), `/dev/${dev} exists when connect returns`);
  assert.equal(attr(dev, 'state'), 'live');
  assert.equal(attr(dev, 'transport'), 'tcp');
  assert.equal(attr(dev, 'subsysnqn'), target.nqn2);
  assert.equal(attr(dev, 'cntlid'), String(r.cntlid));
  fact('sysfs.address', attr(dev, 'address'));
  rawDelete(dev);
});

test('errnos: duplicate EALREADY, nothing listening ECONNREFUSED, unknown NQN EIO, junk EINVAL', () => {
  const first = rawConnect(tcpOptions(target.nqn2));
  assert.equal(
    errnoOf(() => rawConnect(tcpOptions(target.nqn2))),
    'EALREADY',
  );
  const dup = rawConnect(tcpOptions(target.nqn2, 'duplicate_connect'));
  assert.notEqual(dup.instance, first.instance, 'duplicate_connect makes a second controller');
  rawDelete(`nvme${dup.instance}`);
  rawDelete(`nvme${first.instance}`);
  const refused = `transport=tcp,traddr=${target.traddr},trsvcid=4421,nqn=${target.nqn1}`;
  assert.equal(
    errnoOf(() => rawConnect(refused)),
    'ECONNREFUSED',
  );
  assert.equal(
    errnoOf(() => rawConnect(tcpOptions('nqn.2014-08.org.nvmf-registry:no-such-subsystem'))),
    'EIO',
  );
  assert.equal(
    errnoOf(() => rawConnect(`transport=bogus,traddr=${target.traddr},nqn=${target.nqn1}`)),
    'EINVAL',
  );
  assert.equal(
    errnoOf(() => rawConnect('this is not an option string')),
    'EINVAL',
  );
  assert.equal(
    errnoOf(() => rawConnect(tcpOptions(target.nqn1, 'no_such_option=1'))),
    'EINVAL',
  );
  assert.deepEqual(controllers(), [], 'failed connects leave no controller behind');
});

test('delete_controller is synchronous: node and sysfs dir are gone when the write returns', () => {
  const ms = { connect: [] as number[], delete: [] as number[] };
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const dev = `nvme${rawConnect(tcpOptions(i % 2 ? target.nqn1 : target.nqn2)).instance}`;
    const t1 = performance.now();
    rawDelete(dev);
    ms.connect.push(t1 - t0);
    ms.delete.push(performance.now() - t1);
    assert.equal(existsSync(`/dev/${dev}`), false);
    assert.equal(existsSync(`/sys/class/nvme/${dev}`), false);
  }
  const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[xs.length >> 1]!);
  fact('timing.ms.median', { connect: median(ms.connect), delete: median(ms.delete) });
});

test('instances: lowest free number', async () => {
  udevSettle();
  const a = await connectExpecting(tcpOptions(target.nqn1), 0, 'clean_host');
  const b = await connectExpecting(tcpOptions(target.nqn2), 1, 'second');
  assert.deepEqual([a, b], [0, 1], 'a clean host numbers from 0');
  rawDelete(`nvme${a}`);
  const c = await connectExpecting(tcpOptions(target.nqn1), a, 'freed');
  assert.equal(c, a, 'the freed number is handed out again');
  rawDelete(`nvme${b}`);
  rawDelete(`nvme${c}`);
});

test("instances: a subsystem's first controller keeps its number while a sibling lives", async () => {
  udevSettle();
  // 0: also the subsystem's number
  const first = await connectExpecting(tcpOptions(target.nqn2), 0, 'subsystem_first');
  const sibling = await connectExpecting(tcpOptions(target.nqn2, 'duplicate_connect'), 1, 'sibling');
  rawDelete(`nvme${first}`);
  const other = await connectExpecting(tcpOptions(target.nqn1), 2, 'other');
  fact('instance.subsystem_exception', { first, sibling, afterDeletingFirst: other });
  assert.notEqual(other, first, 'the subsystem still holds the first number');
  assert.equal(other, 2);
  rawDelete(`nvme${sibling}`); // last controller of the subsystem: its number is freed
  const again = await connectExpecting(tcpOptions(target.nqn2), first, 'subsystem_freed');
  assert.equal(again, first, 'freed with the subsystem');
  rawDelete(`nvme${again}`);
  rawDelete(`nvme${other}`);
});

/** Namespace block devices under a controller (`nvme0c0n1`: a path of the multipath head). */
function namespaceDevices(dev: string): string[] {
  try {
    return readdirSync(`/sys/class/nvme/${dev}`).filter((n) => /^nvme\d+(c\d+)?n\d+$/.test(n));
  } catch {
    return [];
  }
}

test('uevent_seqnum rises on connect and on delete; namespace events come after the reply', async () => {
  const rows: Array<Record<string, unknown>> = [];
  for (const [nqn, hasNs] of [
    [target.nqn1, true],
    [target.nqn2, false],
    [target.discoveryNqn, false],
  ] as const) {
    for (let round = 0; round < 3; round++) {
      udevSettle();
      const s0 = seqnum();
      const dev = `nvme${rawConnect(tcpOptions(nqn)).instance}`;
      const s1 = seqnum();
      let ns: string[] = [];
      for (let i = 0; hasNs && ns.length === 0 && i < 200; i++) {
        ns = namespaceDevices(dev);
        if (ns.length === 0) await sleep(25);
      }
      if (hasNs) assert.ok(ns.length > 0, `${dev} namespace scanned`);
      udevSettle();
      const s2 = seqnum();
      rawDelete(dev);
      const s3 = seqnum();
      assert.ok(s1 > s0 && s3 > s2, `seqnum ${s0} -> ${s1} -> ${s2} -> ${s3}`);
      rows.push({ nqn: nqn.split(':')[1], connectReply: s1 - s0, afterScan: s2 - s0, delete: s3 - s2, ns });
    }
  }
  for (const r of rows) fact('seqnum.delta', r);
});

interface Uevent {
  seq: number;
  action: string;
  subsystem: string;
  devpath: string;
}

/** Kernel uevents seen by `udevadm monitor --kernel` while fn runs, in SEQNUM order. */
async function recordUevents(fn: () => Promise<void>): Promise<Uevent[]> {
  const mon = spawn('udevadm', ['monitor', '--kernel', '--property'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let text = '';
  mon.stdout.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  // it prints a banner once it listens
  for (let i = 0; i < 200 && !text.includes('monitor will print'); i++) await sleep(25);
  await fn();
  udevSettle();
  await sleep(500);
  mon.kill();
  const events: Uevent[] = [];
  for (const block of text.split('\n\n')) {
    const p = Object.fromEntries(
      block
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (p['SEQNUM'])
      events.push({
        seq: Number(p['SEQNUM']),
        action: p['ACTION'] ?? '',
        subsystem: p['SUBSYSTEM'] ?? '',
        devpath: (p['DEVPATH'] ?? '').replace(/^\/devices\/virtual\//, ''),
      });
  }
  return events.sort((a, b) => a.seq - b.seq);
}

test('event order: controller events before the reply, namespace events after, remove last', async () => {
  resetHost();
  let dev = '';
  let atReply = 0;
  let beforeDelete = 0;
  const events = await recordUevents(async () => {
    dev = `nvme${rawConnect(tcpOptions(target.nqn1)).instance}`;
    atReply = seqnum();
    for (let i = 0; i < 200 && namespaceDevices(dev).length === 0; i++) await sleep(25);
    udevSettle();
    beforeDelete = seqnum();
    rawDelete(dev);
  });
  for (const e of events) fact('uevent', `${e.seq} ${e.action} ${e.subsystem} ${e.devpath}`);
  const add = events.find(
    (e) => e.action === 'add' && e.subsystem === 'nvme' && e.devpath.endsWith(`/${dev}`),
  );
  const remove = events.find(
    (e) => e.action === 'remove' && e.subsystem === 'nvme' && e.devpath.endsWith(`/${dev}`),
  );
  assert.ok(add && add.seq <= atReply, `add of ${dev} is announced before the reply`);
  assert.ok(remove && remove.seq > beforeDelete, `remove of ${dev} comes with the delete`);
  const blockAdd = events.find((e) => e.action === 'add' && e.subsystem === 'block');
  assert.ok(blockAdd, 'the namespace appears as a block device');
});

interface ProbeRun {
  dev: string;
  seq: number;
  node: string;
}

/** Installs a remove rule that logs `%k $env{SEQNUM} present|absent`, runs fn, returns the log. */
function withProbeRule(fn: () => void): ProbeRun[] {
  const probeRule = '/etc/udev/rules.d/99-kt-probe.rules';
  const log = '/run/kt-probe.log';
  rmSync(log, { force: true });
  writeFileSync(
    probeRule,
    `ACTION=="remove", SUBSYSTEM=="nvme", KERNEL=="nvme[0-9]*", RUN+="/bin/sh -c 'if [ -e /dev/%k ]; then n=present; else n=absent; fi; echo %k $env{SEQNUM} $$n >>${log}'"\n`,
  );
  execFileSync('udevadm', ['control', '--reload']);
  try {
    fn();
    udevSettle();
  } finally {
    rmSync(probeRule, { force: true });
    execFileSync('udevadm', ['control', '--reload']);
  }
  // events of different devices may be handled in parallel: order by SEQNUM
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [dev = '', seq = '', node = ''] = l.split(' ');
      return { dev, seq: Number(seq), node };
    })
    .sort((x, y) => x.seq - y.seq);
}

interface Removal {
  dev: string;
  after: number;
  upTo: number;
}

function connectDelete(i: number): Removal {
  const dev = `nvme${rawConnect(tcpOptions(i % 2 ? target.nqn1 : target.nqn2)).instance}`;
  const after = seqnum();
  rawDelete(dev);
  return { dev, after, upTo: seqnum() };
}

function checkSeqnums(runs: ProbeRun[], removals: Removal[]): void {
  assert.equal(runs.length, removals.length, 'one rule run per removal');
  runs.forEach((run, i) => {
    const want = removals[i]!;
    assert.equal(run.dev, want.dev);
    assert.ok(
      run.seq > want.after && run.seq <= want.upTo,
      `SEQNUM ${run.seq} in (${want.after}, ${want.upTo}]`,
    );
  });
}

test('udevd runs a remove rule with $env{SEQNUM}, after the device node is gone', () => {
  const removals: Removal[] = [];
  const runs = withProbeRule(() => {
    for (let i = 0; i < 10; i++) {
      removals.push(connectDelete(i));
      udevSettle();
    }
  });
  checkSeqnums(runs, removals);
  for (const run of runs)
    assert.equal(run.node, 'absent', 'devtmpfs removes the node before the remove uevent');
  fact('udev.remove_rule_runs', `${runs.length}/${removals.length}`);
});

test('a recycled instance: the queued remove rule can run after the number was handed out again', () => {
  const removals: Removal[] = [];
  const runs = withProbeRule(() => {
    for (let i = 0; i < 10; i++) removals.push(connectDelete(i));
  });
  checkSeqnums(runs, removals);
  // The kernel frees an instance number when the last reference to the old controller is
  // dropped, which can trail delete_controller's return by a moment (measured: most connects
  // here get nvme0 again, now and then one gets nvme1). So the scenario asserts only that the
  // number was handed out again in most rounds — the situation a late rule must survive —
  // and records how often.
  const reused = removals.slice(1).filter((r, i) => r.dev === removals[i]!.dev).length;
  fact('instance.reused_at_once', `${reused}/${removals.length - 1}`);
  assert.ok(
    reused >= (removals.length - 1) / 2,
    `the number was handed out again in ${reused} of ${removals.length - 1} rounds`,
  );
  fact(
    'udev.remove_rule_saw_recycled_node',
    `${runs.filter((r) => r.node === 'present').length}/${runs.length}`,
  );
});

test('systemd-udevd and systemd-journald are the real daemons', () => {
  const active = execFileSync('systemctl', ['is-active', 'systemd-udevd', 'systemd-journald'], {
    encoding: 'utf8',
  });
  assert.deepEqual(active.trim().split('\n'), ['active', 'active']);
});
