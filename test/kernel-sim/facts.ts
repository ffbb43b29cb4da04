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
 * (at least one namespace) and `nqn0`, and nothing listening at `closedTrsvcid`.
 */
export interface FactTarget {
  transport: string;
  traddr: string;
  trsvcid: string;
  /** A subsystem with at least one namespace. */
  nqn: string;
  /** A second subsystem (any number of namespaces). */
  nqn0: string;
  /** A port on traddr where nothing listens. */
  closedTrsvcid: string;
  /** Whether a discovery controller answers at traddr:discoveryTrsvcid. */
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

/** connect replies instance/cntlid; the controller is live in sysfs with our address; delete is synchronous. */
export async function factConnectAndDelete(env: FactEnv): Promise<{ device: string }> {
  const { kernel: k, target: t } = env;
  const r = await k.connect(connectString(t, t.nqn));
  const device = `nvme${r.instance}`;
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
    assert.ok((await k.listControllers()).some((x) => x.device === device));
  } finally {
    await k.deleteController(device);
  }
  assert.equal(k.deviceNodeExists(device), false, 'node gone when delete returns');
  assert.equal(await k.controller(device), null, 'sysfs dir gone when delete returns');
  return { device };
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

/** uevent_seqnum rises on connect and delete; returns the increments measured. */
export async function factSeqnum(env: FactEnv): Promise<{ connect: number; delete: number }> {
  const { kernel: k, target: t } = env;
  const s0 = k.ueventSeqnum();
  const r = await k.connect(connectString(t, t.nqn));
  const s1 = k.ueventSeqnum();
  await k.deleteController(`nvme${r.instance}`);
  const s2 = k.ueventSeqnum();
  assert.ok(s1 > s0, `seqnum rises on connect (${s0} -> ${s1})`);
  assert.ok(s2 > s1, `seqnum rises on delete (${s1} -> ${s2})`);
  return { connect: s1 - s0, delete: s2 - s1 };
}

/** udevd sees the remove event of nvmeN only after /dev/nvmeN is gone. */
export async function factNodeGoneBeforeRemoveEvent(env: FactEnv): Promise<void> {
  const { kernel: k, target: t } = env;
  if (!env.settle || !env.removeEventsSince)
    throw new Error('factNodeGoneBeforeRemoveEvent needs settle and removeEventsSince');
  const s0 = k.ueventSeqnum();
  const r = await k.connect(connectString(t, t.nqn));
  await k.deleteController(`nvme${r.instance}`);
  await env.settle();
  const evs = (await env.removeEventsSince(s0)).filter((e) => e.kernel === `nvme${r.instance}`);
  assert.equal(evs.length, 1, 'one remove event for the controller');
  assert.equal(evs[0]?.nodeExisted, false, 'node already gone when the remove event is processed');
  assert.ok((evs[0]?.seqnum ?? 0) > s0);
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

/** A discovery controller serves a log page listing `nqn`; referrals when the target has some. */
export async function factDiscoveryLog(env: FactEnv): Promise<{ entries: number; referrals: number }> {
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
    return { entries: log.entries.length, referrals: log.entries.filter((e) => e.subtype === 1).length };
  });
}

export const ALL_FACTS = {
  factConnectAndDelete,
  factEalready,
  factEconnrefused,
  factEioUnknownSubsystem,
  factEinval,
  factInstanceAllocation,
  factSeqnum,
  factNodeGoneBeforeRemoveEvent,
  factNamespaces,
  factDiscoveryLog,
} as const;
