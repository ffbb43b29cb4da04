import assert from 'node:assert/strict';
import { isNvmfError } from '../../src/errors.js';
import type { Kernel } from '../../src/kernel/port.js';

/**
 * Kernel facts as reusable scenarios: each takes a Kernel (sim or linux) and the target it
 * may use, asserts with node:assert, cleans up the controllers it created, and returns what
 * it measured. The same code runs on the simulated kernel (facts.test.ts) and on the real
 * kernel in the VM harness, which is the point: the sim is only as faithful as these checks.
 *
 * Preconditions: a host without fabrics controllers (instance numbering is observed
 * relative to an empty host), a target listening at `tcp traddr:trsvcid` exporting `nqn`
 * (exactly one namespace) and `nqn0` (no namespace), and nothing listening at `closedTrsvcid`.
 * The expected values are docs/kernel-tests.md's, measured on 6.1.
 */
export interface FactTarget {
  transport: string;
  traddr: string;
  trsvcid: string;
  /** A subsystem with at least one namespace. */
  nqn: string;
  /** A second subsystem, without namespaces. */
  nqn0: string;
  /** A port on traddr where nothing listens. */
  closedTrsvcid: string;
  /** Where a discovery controller answers on traddr (nvmet: every port, so trsvcid). */
  discoveryTrsvcid?: string;
}

export interface FactEnv {
  kernel: Kernel;
  target: FactTarget;
  /** Wait until every queued uevent was processed (sim: simUdevSettle; real: udevadm settle). */
  settle?: () => Promise<void>;
  /** Remove events of SUBSYSTEM nvme processed since `seqnum`, with whether /dev/<kernel> existed then. */
  removeEventsSince?: (seqnum: number) => Promise<{ kernel: string; seqnum: number; nodeExisted: boolean }[]>;
  /** Decode a discovery log page (the engine's codec). */
  decodeDiscoveryLog?: (buf: Uint8Array) => {
    entries: { subtype: number; subnqn: string; traddr: string; trsvcid: string }[];
  };
}

export function connectString(t: FactTarget, nqn: string, extra = ''): string {
  return `nqn=${nqn},transport=${t.transport},traddr=${t.traddr},trsvcid=${t.trsvcid}${extra}`;
}

async function expectErrno(p: Promise<unknown>, errno: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isNvmfError(e, 'EKERNEL'), `expected EKERNEL, got ${String(e)}`);
    assert.equal(e.details['errno'], errno);
    return true;
  });
}

async function withCleanup<T>(k: Kernel, fn: (made: string[]) => Promise<T>): Promise<T> {
  const made: string[] = [];
  try {
    return await fn(made);
  } finally {
    for (const d of made.reverse()) await k.deleteController(d).catch(() => undefined);
  }
}

export async function assertCleanHost(k: Kernel): Promise<void> {
  const fabrics = (await k.listControllers()).filter((c) => c.fabrics);
  assert.deepEqual(
    fabrics.map((c) => c.device),
    [],
    'kernel facts need a host without fabrics controllers',
  );
}

/**
 * connect replies instance/cntlid; the controller is live in sysfs with our address (tcp on 6.1
 * appends the local `src_addr`); delete is synchronous. Returns the device and the raw address.
 */
export async function factConnectAndDelete(env: FactEnv): Promise<{ device: string; address: string }> {
  const { kernel: k, target: t } = env;
  const r = await k.connect(connectString(t, t.nqn));
  const device = `nvme${r.instance}`;
  let address: string;
  try {
    assert.ok(Number.isInteger(r.cntlid) && r.cntlid >= 0);
    assert.ok(k.deviceNodeExists(device), `${device} node exists after connect`);
    const c = await k.controller(device);
    assert.ok(c, `${device} in sysfs`);
    assert.equal(c.transport, t.transport);
    assert.equal(c.subsysnqn, t.nqn);
    assert.equal(c.address.traddr, t.traddr);
    assert.equal(c.address.trsvcid, t.trsvcid);
    assert.equal(c.cntlid, r.cntlid);
    assert.equal(c.state, 'live');
    assert.equal(c.fabrics, true);
    assert.equal(c.subsystemType, 'nvm');
    address = c.rawAddress;
    if (t.transport === 'tcp') {
      assert.match(address, /^traddr=[^,]+,trsvcid=[^,]+,src_addr=[^,]+$/, 'tcp address ends with src_addr');
      assert.ok(c.address.src_addr, 'src_addr parsed');
    }
    assert.ok((await k.listControllers()).some((x) => x.device === device));
  } finally {
    await k.deleteController(device);
  }
  assert.equal(k.deviceNodeExists(device), false, 'node gone when delete returns');
  assert.equal(await k.controller(device), null, 'sysfs dir gone when delete returns');
  return { device, address };
}

export async function factEalready(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  await withCleanup(k, async (made) => {
    const a = await k.connect(connectString(t, t.nqn));
    made.push(`nvme${a.instance}`);
    await expectErrno(k.connect(connectString(t, t.nqn)), 'EALREADY');
    const b = await k.connect(connectString(t, t.nqn, ',duplicate_connect'));
    made.push(`nvme${b.instance}`);
    assert.notEqual(a.instance, b.instance);
  });
}

export async function factEconnrefused(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  await expectErrno(k.connect(connectString({ ...t, trsvcid: t.closedTrsvcid }, t.nqn)), 'ECONNREFUSED');
}

export async function factEioUnknownSubsystem(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  await expectErrno(k.connect(connectString(t, 'nqn.2014-08.org.example:no-such-subsystem')), 'EIO');
}

export async function factEinval(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  await expectErrno(k.connect('this is junk'), 'EINVAL');
  await expectErrno(
    k.connect(`nqn=${t.nqn},transport=carrier-pigeon,traddr=${t.traddr},trsvcid=${t.trsvcid}`),
    'EINVAL',
  );
  await expectErrno(k.connect(connectString(t, t.nqn, ',no_such_option=1')), 'EINVAL');
}

/**
 * Lowest free instance, except that the first controller of a subsystem keeps its number
 * (held by the subsystem) while another controller of that subsystem exists.
 */
export async function factInstanceAllocation(env: FactEnv): Promise<{ sequence: number[] }> {
  const { kernel: k, target: t } = env;
  await assertCleanHost(k);
  const seq: number[] = [];
  await withCleanup(k, async (made) => {
    const conn = async (nqn: string, extra = ''): Promise<number> => {
      const r = await k.connect(connectString(t, nqn, extra));
      made.push(`nvme${r.instance}`);
      seq.push(r.instance);
      return r.instance;
    };
    const drop = async (i: number): Promise<void> => {
      await k.deleteController(`nvme${i}`);
      made.splice(made.indexOf(`nvme${i}`), 1);
    };
    const a = await conn(t.nqn);
    const b = await conn(t.nqn, ',duplicate_connect');
    const c = await conn(t.nqn0);
    assert.deepEqual([a, b, c], [0, 1, 2], 'lowest free on an empty host');
    await drop(c);
    assert.equal(await conn(t.nqn0), 2, 'a freed instance is reused');
    await drop(a);
    const d = await conn(t.nqn0, ',duplicate_connect');
    assert.equal(d, 3, "the subsystem keeps its first controller's instance while a sibling lives");
    await drop(b);
    assert.equal(await conn(t.nqn), 0, 'freed once the subsystem is gone');
  });
  return { sequence: seq };
}

/**
 * The measured instance rule, step by step as docs/kernel-tests.md has it: the first controller
 * of a subsystem lends its number to the subsystem, which keeps it while a sibling lives.
 */
export async function factInstanceSubsystemException(
  env: FactEnv,
): Promise<{ first: number; sibling: number; afterDeletingFirst: number; again: number }> {
  const { kernel: k, target: t } = env;
  await assertCleanHost(k);
  return withCleanup(k, async (made) => {
    const conn = async (nqn: string, extra = ''): Promise<number> => {
      const r = await k.connect(connectString(t, nqn, extra));
      made.push(`nvme${r.instance}`);
      return r.instance;
    };
    const drop = async (i: number): Promise<void> => {
      await k.deleteController(`nvme${i}`);
      made.splice(made.indexOf(`nvme${i}`), 1);
    };
    const first = await conn(t.nqn0);
    const sibling = await conn(t.nqn0, ',duplicate_connect');
    await drop(first);
    const afterDeletingFirst = await conn(t.nqn);
    assert.notEqual(afterDeletingFirst, first, 'the subsystem still holds the first number');
    await drop(sibling);
    const again = await conn(t.nqn0);
    assert.equal(again, first, 'freed with the subsystem');
    return { first, sibling, afterDeletingFirst, again };
  });
}

/** Namespace block devices of `device` once the scan has attached `want` of them (or timeout). */
async function waitNamespaces(k: Kernel, device: string, want: number): Promise<string[]> {
  let ns: string[] = [];
  for (let i = 0; i < 400 && ns.length < want; i++) {
    ns = await k.namespaces(device);
    if (ns.length < want) await new Promise((res) => setTimeout(res, 25));
  }
  return ns;
}

export interface SeqnumDeltas {
  /** At the connect reply: the least of the rounds (the scan normally runs after the reply). */
  atReply: number;
  /** From before the connect until the scan ran and udev settled. */
  afterScan: number;
  delete: number;
}

/**
 * uevent_seqnum increments of `rounds` connect / scan / delete cycles to `nqn` at `trsvcid`.
 * The scan races the caller's read after the reply (measured: it won in 1 of 9 rounds), so
 * `atReply` is the least of the rounds; the other two must be equal in every round.
 */
async function seqnumRounds(
  env: FactEnv,
  o: { nqn: string; trsvcid: string; namespaces: number; rounds?: number },
): Promise<SeqnumDeltas> {
  const { kernel: k, target: t } = env;
  if (!env.settle) throw new Error('seqnum facts need settle');
  let atReply = Number.POSITIVE_INFINITY;
  let afterScan: number | undefined;
  let del: number | undefined;
  for (let round = 0; round < (o.rounds ?? 3); round++) {
    await env.settle();
    const s0 = k.ueventSeqnum();
    const r = await k.connect(connectString({ ...t, trsvcid: o.trsvcid }, o.nqn));
    const s1 = k.ueventSeqnum();
    const device = `nvme${r.instance}`;
    try {
      if (o.namespaces > 0) {
        const ns = await waitNamespaces(k, device, o.namespaces);
        assert.equal(ns.length, o.namespaces, `${device}: namespaces scanned`);
      }
      await env.settle();
    } finally {
      const s2 = k.ueventSeqnum();
      await k.deleteController(device);
      const s3 = k.ueventSeqnum();
      assert.ok(s1 > s0 && s3 > s2, `seqnum ${s0} -> ${s1} -> ${s2} -> ${s3}`);
      atReply = Math.min(atReply, s1 - s0);
      assert.ok(afterScan === undefined || afterScan === s2 - s0, `same events every round (${s2 - s0})`);
      assert.ok(del === undefined || del === s3 - s2, `same delete events every round (${s3 - s2})`);
      afterScan = s2 - s0;
      del = s3 - s2;
    }
  }
  return { atReply, afterScan: afterScan ?? 0, delete: del ?? 0 };
}

/** Subsystem with one namespace: measured 4 at the reply, 7 after the scan, 6 per delete. */
export function factSeqnum(env: FactEnv): Promise<SeqnumDeltas> {
  return seqnumRounds(env, { nqn: env.target.nqn, trsvcid: env.target.trsvcid, namespaces: 1 });
}

/** Subsystem without namespaces: measured 4, 4, 3. */
export function factSeqnumNoNamespace(env: FactEnv): Promise<SeqnumDeltas> {
  return seqnumRounds(env, { nqn: env.target.nqn0, trsvcid: env.target.trsvcid, namespaces: 0 });
}

/** Discovery subsystem: measured 3, 3, 2 (no hwmon, no namespace scan). */
export function factSeqnumDiscovery(env: FactEnv): Promise<SeqnumDeltas> {
  if (!env.target.discoveryTrsvcid) throw new Error('factSeqnumDiscovery needs discoveryTrsvcid');
  return seqnumRounds(env, {
    nqn: 'nqn.2014-08.org.nvmexpress.discovery',
    trsvcid: env.target.discoveryTrsvcid,
    namespaces: 0,
  });
}

/**
 * A delete right after the connect reply races the asynchronous namespace scan, and on 6.1
 * every stage of that race was measured: the scan ran (4 + 3 + 6 = 13, split anywhere around
 * the reply's read), the delete came first so the scan did nothing (4 + 3 = 7, no namespace),
 * or the delete interrupted it part-way (12 measured). So the fact is the range 7..13, with 4
 * to 7 of it by the reply's read; scanRan says whether the whole scan got in. The sim models
 * the first outcome.
 */
export async function factSeqnumDeleteRightAfterConnect(
  env: FactEnv,
): Promise<{ scanRan: boolean; connectAndDelete: number }> {
  const { kernel: k, target: t } = env;
  if (env.settle) await env.settle();
  const s0 = k.ueventSeqnum();
  const r = await k.connect(connectString(t, t.nqn));
  const s1 = k.ueventSeqnum();
  await k.deleteController(`nvme${r.instance}`);
  const s2 = k.ueventSeqnum();
  const total = s2 - s0;
  assert.ok(
    total >= 7 && total <= 13,
    `connect + delete is 7 (scan cancelled) to 13 (scan ran), got ${total}`,
  );
  const scanRan = total === 13;
  // The scan can also be part-way through when the reply's seqnum is read (measured: 6 = 4 + 2
  // of the scan's 3), so only the bounds of that split are facts.
  const atReply = s1 - s0;
  assert.ok(
    atReply >= 4 && atReply <= Math.min(7, total - 3),
    `the reply's share fits that outcome (${atReply} of ${total})`,
  );
  return { scanRan, connectAndDelete: total };
}

/**
 * udevd runs a remove rule once per controller removal, with $env{SEQNUM} in (seqnum after the
 * connect, seqnum after the delete], and only after /dev/nvmeN is gone.
 */
export async function factNodeGoneBeforeRemoveEvent(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  if (!env.settle || !env.removeEventsSince)
    throw new Error('factNodeGoneBeforeRemoveEvent needs settle and removeEventsSince');
  await env.settle();
  const s0 = k.ueventSeqnum();
  const r = await k.connect(connectString(t, t.nqn));
  const s1 = k.ueventSeqnum();
  await k.deleteController(`nvme${r.instance}`);
  const s2 = k.ueventSeqnum();
  await env.settle();
  const evs = (await env.removeEventsSince(s0)).filter((e) => e.kernel === `nvme${r.instance}`);
  assert.equal(evs.length, 1, 'one remove event for the controller');
  assert.equal(evs[0]?.nodeExisted, false, 'node already gone when the remove event is processed');
  const seq = evs[0]?.seqnum ?? 0;
  assert.ok(seq > s1 && seq <= s2, `SEQNUM ${seq} in (${s1}, ${s2}]`);
}

/** Namespaces resolve to existing block devices (multipath head or per-controller disk). */
export async function factNamespaces(env: FactEnv): Promise<{ namespaces: string[] }> {
  const { kernel: k, target: t } = env;
  return withCleanup(k, async (made) => {
    const r = await k.connect(connectString(t, t.nqn));
    made.push(`nvme${r.instance}`);
    let ns: string[] = [];
    // Namespace scanning runs after the connect reply on a real kernel.
    for (let i = 0; i < 100 && ns.length === 0; i++) {
      ns = await k.namespaces(`nvme${r.instance}`);
      if (ns.length === 0) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(ns.length >= 1, 'at least one namespace');
    for (const n of ns) assert.ok(k.blockDeviceExists(n), `${n} exists`);
    return { namespaces: ns };
  });
}

/**
 * A discovery controller serves a log page listing `nqn`. nvmet 6.1 starts it with a
 * current-discovery entry (SUBTYPE 3, the discovery NQN) for the port itself; referrals
 * (SUBTYPE 1) come last.
 */
export async function factDiscoveryLog(
  env: FactEnv,
): Promise<{ entries: number; referrals: number; current: number }> {
  const { kernel: k, target: t } = env;
  if (!env.decodeDiscoveryLog || !t.discoveryTrsvcid)
    throw new Error('factDiscoveryLog needs decodeDiscoveryLog and discoveryTrsvcid');
  return withCleanup(k, async (made) => {
    const r = await k.connect(
      connectString({ ...t, trsvcid: t.discoveryTrsvcid as string }, 'nqn.2014-08.org.nvmexpress.discovery'),
    );
    made.push(`nvme${r.instance}`);
    const c = await k.controller(`nvme${r.instance}`);
    assert.equal(c?.subsystemType, 'discovery');
    const log = env.decodeDiscoveryLog?.(await k.discoveryLogPage(`nvme${r.instance}`));
    assert.ok(log);
    assert.ok(
      log.entries.some((e) => e.subtype === 2 && e.subnqn === t.nqn),
      `${t.nqn} listed`,
    );
    const current = log.entries.filter((e) => e.subtype === 3);
    if (current.length > 0) {
      assert.equal(log.entries[0]?.subtype, 3, 'the current-discovery entry comes first');
      assert.equal(current[0]?.subnqn, 'nqn.2014-08.org.nvmexpress.discovery');
      assert.equal(current[0]?.traddr, t.traddr);
      assert.equal(current[0]?.trsvcid, t.discoveryTrsvcid);
    }
    const firstReferral = log.entries.findIndex((e) => e.subtype === 1);
    if (firstReferral >= 0)
      assert.ok(
        log.entries.slice(firstReferral).every((e) => e.subtype === 1),
        'referrals come last',
      );
    return {
      entries: log.entries.length,
      referrals: log.entries.filter((e) => e.subtype === 1).length,
      current: current.length,
    };
  });
}

export const ALL_FACTS = {
  factConnectAndDelete,
  factEalready,
  factEconnrefused,
  factEioUnknownSubsystem,
  factEinval,
  factInstanceAllocation,
  factInstanceSubsystemException,
  factSeqnum,
  factSeqnumNoNamespace,
  factSeqnumDiscovery,
  factSeqnumDeleteRightAfterConnect,
  factNodeGoneBeforeRemoveEvent,
  factNamespaces,
  factDiscoveryLog,
} as const;
