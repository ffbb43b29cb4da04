import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, EMPTY_NAMESPACE_GRACE_MS, waitReady } from '../../src/engine/connect.js';
import {
  disconnect,
  disconnectAll,
  executeDisconnectAll,
  planFromHost,
} from '../../src/engine/disconnect.js';
import { connectAll, discover } from '../../src/engine/discover.js';
import { DISCOVERY_NQN } from '../../src/engine/options.js';
import { isNvmfError } from '../../src/errors.js';
import { simConfigure, simUdevSettle } from '../../src/kernel/sim.js';
import { makeSim, NQN_A, NQN_B, NQN_C, type SimHost } from './sim-helpers.js';

const A = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: NQN_A } as const;
const B = { ...A, nqn: NQN_B } as const;
const C = { ...A, traddr: '10.0.0.2', nqn: NQN_C } as const;
const DISC1 = { transport: 'tcp', traddr: '10.0.0.1' } as const;

async function rejects(p: Promise<unknown>, code: string, msg: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(isNvmfError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    expect((e as Error).message).toMatch(msg);
    return e as Error;
  }
  throw new Error(`expected ${code}`);
}

let h: SimHost;
beforeEach(async () => {
  h = await makeSim();
});
afterEach(() => h.close());

describe('connect', () => {
  it('creates the controller and its entry (owner + seqnum stamped right after the reply)', async () => {
    const before = h.kernel.ueventSeqnum();
    const r = await connect(h.ctx, A, { owner: 'stas', wait: true });
    expect(r).toEqual({
      device: 'nvme0',
      cntlid: 1,
      owner: 'stas',
      reused: false,
      namespaces: expect.any(Array),
    });
    expect(r.namespaces).toHaveLength(2);
    const e = h.registry.read('nvme0');
    expect(e?.owner).toBe('stas');
    expect(e?.seqnum).toBeGreaterThan(before);
    expect(e?.seqnum).toBeLessThanOrEqual(h.kernel.ueventSeqnum());
    expect(h.registry.liveIntents()).toEqual([]);
    expect(
      h.events.some((ev) => ev.action === 'connect' && ev.device === 'nvme0' && ev.owner === 'stas'),
    ).toBe(true);
  });

  it('--wait finds the namespaces of a slow asynchronous scan, not the empty list before it', async () => {
    h.close();
    h = await makeSim({ latency: { connectMs: 0, deleteMs: 0, scanMs: 300 } });
    const r = await connect(h.ctx, A, { owner: 'stas', wait: true });
    expect(r.namespaces).toHaveLength(2);
    for (const n of r.namespaces) expect(h.kernel.blockDeviceExists(n)).toBe(true);
  });

  it('--wait returns no namespace for a subsystem that exports none, only after the grace period', async () => {
    const t0 = Date.now();
    const r = await connect(h.ctx, B, { owner: 'stas', wait: true });
    expect(r.namespaces).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(EMPTY_NAMESPACE_GRACE_MS);
  });

  it('without an owner writes no entry and clears a stale one on a recycled instance', async () => {
    h.registry.create('nvme0', { owner: 'ghost', seqnum: 1 });
    const r = await connect(h.ctx, A);
    expect(r.device).toBe('nvme0');
    expect(r.owner).toBeNull();
    expect(h.registry.read('nvme0')).toBeNull();
  });

  it('owned connect replaces a stale entry of a recycled instance with a fresh stamp', async () => {
    h.registry.create('nvme0', { owner: 'ghost', seqnum: 1 });
    await connect(h.ctx, A, { owner: 'stas' });
    expect(h.registry.read('nvme0')).toMatchObject({ owner: 'stas' });
    expect(h.registry.read('nvme0')?.seqnum).toBeGreaterThan(1);
  });

  describe('reuse (DESIGN §5)', () => {
    beforeEach(async () => {
      await connect(h.ctx, A, { owner: 'stas' });
    });

    it('a bare connect leaves the entry alone and reports reused', async () => {
      const seq = h.registry.read('nvme0')?.seqnum;
      const r = await connect(h.ctx, A);
      expect(r).toMatchObject({ device: 'nvme0', reused: true, owner: 'stas' });
      expect(h.registry.read('nvme0')).toMatchObject({ owner: 'stas', seqnum: seq });
    });

    it('the same owner is a no-op claim that keeps the seqnum stamp', async () => {
      const seq = h.registry.read('nvme0')?.seqnum;
      const r = await connect(h.ctx, A, { owner: 'stas' });
      expect(r.reused).toBe(true);
      expect(h.registry.read('nvme0')?.seqnum).toBe(seq);
    });

    it('a different owner is a conflict', async () => {
      await rejects(
        connect(h.ctx, A, { owner: 'k8s' }),
        'EOWNER_CONFLICT',
        /owned by "stas"; connect --force to take it over from "stas"/,
      );
      expect(h.registry.read('nvme0')?.owner).toBe('stas');
    });

    it('a different owner with force takes it over, keeping the seqnum', async () => {
      const seq = h.registry.read('nvme0')?.seqnum;
      const r = await connect(h.ctx, A, { owner: 'k8s', force: true });
      expect(r).toMatchObject({ reused: true, owner: 'k8s' });
      expect(h.registry.read('nvme0')).toMatchObject({ owner: 'k8s', seqnum: seq });
    });

    it('an empty owner disowns an owned controller only with force, and says so', async () => {
      await rejects(
        connect(h.ctx, A, { owner: '' }),
        'EOWNER_CONFLICT',
        /owned by "stas"; connect --owner= --force to disown it/,
      );
      expect(h.registry.read('nvme0')?.owner).toBe('stas');
      const r = await connect(h.ctx, A, { owner: '', force: true });
      expect(r.owner).toBeNull();
      expect(r.change).toBe('disowned from "stas"');
      expect(h.registry.read('nvme0')?.owner).toBeNull();
      expect(h.events.some((e) => e.action === 'disown' && e.prevOwner === 'stas')).toBe(true);
    });

    it('claiming a controller connected outside the registry creates its entry', async () => {
      const r0 = await connect(h.ctx, B);
      expect(h.registry.read(r0.device)).toBeNull();
      const r = await connect(h.ctx, B, { owner: 'k8s' });
      expect(r).toMatchObject({ device: r0.device, reused: true, owner: 'k8s' });
      expect(h.registry.read(r0.device)?.owner).toBe('k8s');
    });

    it('a claimer that creates the entry between our read and our write wins; we get a conflict', async () => {
      const r0 = await connect(h.ctx, B);
      const real = h.registry;
      let raced = false;
      // Another process registers the controller right after our read saw no entry.
      const registry = new Proxy(real, {
        get(target, prop) {
          if (prop === 'verdict') {
            return (device: string, c?: Parameters<typeof target.verdict>[1]) => {
              const seen = target.verdict(device, c);
              if (!raced && seen.kind === 'unowned') {
                raced = true;
                target.claim(device, 'other', { expect: null, seqnum: 1 });
              }
              return seen;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      await rejects(
        connect({ ...h.ctx, registry }, B, { owner: 'k8s' }),
        'EOWNER_CONFLICT',
        /owned by "other"/,
      );
      expect(raced).toBe(true);
      expect(real.read(r0.device)).toMatchObject({ owner: 'other', seqnum: 1 });
    });

    it('duplicate_connect makes a second controller instead of reusing', async () => {
      const r = await connect(h.ctx, { ...A, duplicate_connect: true }, { owner: 'k8s' });
      expect(r).toMatchObject({ device: 'nvme1', reused: false, owner: 'k8s' });
    });
  });

  it('maps kernel errnos to clear messages and audits the failure', async () => {
    await rejects(connect(h.ctx, { ...A, trsvcid: '4999' }), 'EKERNEL', /connection refused/);
    await rejects(
      connect(h.ctx, { ...A, nqn: 'nqn.2024-01.io.example:nope' }, { owner: 'x' }),
      'EKERNEL',
      /rejected the connect/,
    );
    expect(h.events.filter((e) => e.action === 'connect-failed')).toHaveLength(2);
    // a failed connect leaves neither intent nor entry
    expect(h.registry.liveIntents()).toEqual([]);
    expect(h.registry.list().live).toEqual([]);
  });

  it('invalid options never reach the kernel', async () => {
    await rejects(
      connect(h.ctx, { ...A, ctrl_loss_tmo: 5, reconnect_delay: 10 }),
      'EINVALID_OPTION',
      /ctrl_loss_tmo=5/,
    );
    expect(await h.kernel.listControllers()).toEqual([]);
  });

  it('a failed ownership write is an error and the controller is disconnected again', async () => {
    const reg = h.registry;
    const orig = reg.create.bind(reg);
    reg.create = () => {
      throw Object.assign(new Error('disk on fire'), { code: 'EIO' });
    };
    try {
      const e = await rejects(
        connect(h.ctx, A, { owner: 'stas' }),
        'EIO',
        /could not record owner "stas".*disconnected again/,
      );
      expect((e as unknown as { details: { connected: boolean } }).details.connected).toBe(false);
    } finally {
      reg.create = orig;
    }
    expect(await h.kernel.listControllers()).toEqual([]);
    expect(reg.liveIntents()).toEqual([]);
  });

  it('waitReady times out with the state named, leaving the controller connected', async () => {
    const r = await connect(h.ctx, A);
    h.kernel.namespaces = async () => ['nvme0n9'];
    await rejects(
      waitReady(h.ctx, r.device, 120),
      'ETIMEDOUT',
      /connected \(and registered\) but not ready.*nvme0n9/,
    );
    expect(await h.kernel.controller(r.device)).not.toBeNull();
  });

  it('secrets never appear in errors or audit records', async () => {
    await simConfigure(h.dir, {
      fabricsOptions:
        'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,dhchap_secret=%s,dhchap_ctrl_secret=%s,tls,tls_key=%d',
    });
    const secret = `DHHC-1:01:${Buffer.alloc(36, 0x5a).toString('base64')}:`;
    const ctrlSecret = `DHHC-1:02:${Buffer.alloc(52, 0x3c).toString('base64')}:`;
    const withKeys = { dhchap_secret: secret, dhchap_ctrl_secret: ctrlSecret, tls_key: 987654321 };
    const texts: string[] = [];
    const collect = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        texts.push(
          String(e),
          JSON.stringify((e as { details?: unknown }).details ?? {}),
          String((e as Error).stack),
        );
      }
    };
    await connect(h.ctx, { ...A, ...withKeys }, { owner: 'stas' });
    await collect(connect(h.ctx, { ...A, ...withKeys, trsvcid: '4999' }, { owner: 'stas' }));
    await collect(connect(h.ctx, { ...A, ...withKeys, nqn: 'nqn.2024-01.io.example:nope' }));
    await collect(connect(h.ctx, { ...A, ...withKeys, dhchap_secret: `${secret}x` }));
    await collect(connect(h.ctx, { ...A, ...withKeys }, { owner: 'other' }));
    expect(texts.length).toBeGreaterThanOrEqual(4);
    const all = texts.join('\n') + JSON.stringify(h.events);
    for (const s of [secret, ctrlSecret, Buffer.alloc(36, 0x5a).toString('base64'), '987654321']) {
      expect(all).not.toContain(s);
    }
  });
});

describe('disconnect', () => {
  it('deletes the controller; the udev rule then removes the entry', async () => {
    await connect(h.ctx, A, { owner: 'stas' });
    expect(await disconnect(h.ctx, 'nvme0')).toEqual({ device: 'nvme0', owner: 'stas' });
    expect(await h.kernel.controller('nvme0')).toBeNull();
    await simUdevSettle(h.dir, { now: true });
    expect(h.registry.read('nvme0')).toBeNull();
  });

  it('refuses a missing controller and a bad name', async () => {
    await rejects(disconnect(h.ctx, 'nvme7'), 'ENO_CONTROLLER', /nvme7 does not exist/);
    await expect(disconnect(h.ctx, '../nvme0')).rejects.toThrow();
  });
});

describe('discover and connect-all', () => {
  it('follows the referral once (loop protected) and removes its temporary controllers', async () => {
    const r = await discover(h.ctx, DISC1, { owner: 'stas' });
    const nvm = r.entries.filter((e) => e.kind === 'nvm').map((e) => e.subnqn);
    expect(nvm.sort()).toEqual([NQN_A, NQN_B, NQN_C]);
    expect(r.entries.filter((e) => e.kind === 'referral')).toHaveLength(2);
    expect(r.skipped).toEqual([{ source: 'tcp 10.0.0.1:8009', reason: 'already visited (referral loop)' }]);
    expect(await h.kernel.listControllers()).toEqual([]);
  });

  it('an excluded referral is not followed, with the reason; the service named by the caller is not asked', async () => {
    const asked: string[] = [];
    const r = await discover(h.ctx, DISC1, {
      owner: 'stas',
      excluded: (t) => {
        asked.push(`${t.traddr}:${t.trsvcid} ${t.nqn}`);
        return t.traddr === '10.0.0.2' ? 'excluded by test' : null;
      },
    });
    expect(asked).not.toContain(`10.0.0.1:8009 ${DISCOVERY_NQN}`);
    expect(asked).toContain(`10.0.0.2:8009 ${DISCOVERY_NQN}`);
    expect(r.skipped).toContainEqual({ source: 'tcp 10.0.0.2:8009', reason: 'excluded by test' });
    expect(r.entries.some((e) => e.subnqn === NQN_C)).toBe(false);
    expect(h.events.some((e) => e.action === 'discover-skip' && e.reason === 'excluded by test')).toBe(true);
  });

  it('skips a discovery controller owned by someone else, on the referral path too', async () => {
    // a persistent discovery controller on the referred-to service, owned by another orchestrator
    const d2 = await connect(
      h.ctx,
      { transport: 'tcp', traddr: '10.0.0.2', nqn: DISCOVERY_NQN },
      { owner: 'k8s' },
    );
    const r = await discover(h.ctx, DISC1, { owner: 'stas' });
    expect(r.skipped).toContainEqual({
      source: 'tcp 10.0.0.2:8009',
      reason: `discovery controller ${d2.device} is owned by "k8s", not "stas"; not used`,
    });
    expect(r.entries.some((e) => e.subnqn === NQN_C)).toBe(false);
    expect(h.events.some((e) => e.action === 'discover-skip')).toBe(true);
    // its own owner may use it
    const r2 = await discover(h.ctx, { transport: 'tcp', traddr: '10.0.0.2' }, { owner: 'k8s' });
    expect(r2.entries.some((e) => e.subnqn === NQN_C)).toBe(true);
    expect(await h.kernel.controller(d2.device)).not.toBeNull();
  });

  it('a vetoController check skips an existing discovery controller, first service and referral alike', async () => {
    const d1 = await connect(h.ctx, { transport: 'tcp', traddr: '10.0.0.1', nqn: DISCOVERY_NQN });
    const d2 = await connect(h.ctx, { transport: 'tcp', traddr: '10.0.0.2', nqn: DISCOVERY_NQN });
    const seen: string[] = [];
    const vetoController = (c: { device: string }, owner: string | null) => {
      seen.push(`${c.device}:${owner}`);
      return c.device === d2.device ? 'site policy: not this one' : null;
    };
    const r = await discover(h.ctx, DISC1, { owner: 'stas', vetoController });
    expect(seen).toEqual([`${d1.device}:stas`, `${d2.device}:stas`]);
    expect(r.skipped).toContainEqual({
      source: 'tcp 10.0.0.2:8009',
      reason: `discovery controller ${d2.device}: site policy: not this one; not used`,
    });
    expect(r.entries.some((e) => e.subnqn === NQN_C)).toBe(false);
    expect(r.entries.some((e) => e.subnqn === NQN_A)).toBe(true);
    // a veto of the first service leaves nothing to read
    const r2 = await discover(h.ctx, DISC1, { owner: 'stas', vetoController: () => 'no' });
    expect(r2.entries).toEqual([]);
    expect(r2.skipped).toEqual([
      { source: 'tcp 10.0.0.1:8009', reason: `discovery controller ${d1.device}: no; not used` },
    ]);
  });

  it('a failing first discovery service is an error', async () => {
    await rejects(discover(h.ctx, { transport: 'tcp', traddr: '10.9.9.9' }), 'EKERNEL', /connection refused/);
  });

  it('connect-all connects every subsystem once with a result per entry', async () => {
    const r = await connectAll(h.ctx, DISC1, { owner: 'stas', concurrency: 2 });
    expect(r.results.map((x) => [x.target.subnqn, x.ok]).sort()).toEqual([
      [NQN_A, true],
      [NQN_B, true],
      [NQN_C, true],
    ]);
    const owners = h.registry.list().live.map((e) => e.owner);
    expect(owners).toEqual(['stas', 'stas', 'stas']);
    // again: everything is reused, nothing new
    const again = await connectAll(h.ctx, DISC1, { owner: 'stas' });
    expect(again.results.every((x) => x.ok && x.result.reused)).toBe(true);
  });

  it('connect-all: a target connected by someone else just before its own write is reused (EALREADY), not duplicated', async () => {
    const kernel = h.kernel;
    let other: string | null = null;
    // Another connector connects B just before connect-all's own write for B, after
    // connect-all looked for an existing controller: the kernel refuses the duplicate.
    const racing = new Proxy(kernel, {
      get(t, k) {
        if (k === 'connect') {
          return async (options: string) => {
            if (other === null && options.includes(`nqn=${NQN_B}`))
              other = (await connect(h.ctx, B, { owner: 'stas' })).device;
            return t.connect(options);
          };
        }
        const v = Reflect.get(t, k, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const r = await connectAll({ ...h.ctx, kernel: racing }, DISC1, { owner: 'stas' });
    expect(other).not.toBeNull();
    const b = r.results.find((x) => x.target.subnqn === NQN_B);
    expect(b).toMatchObject({ ok: true, result: { device: other, reused: true, owner: 'stas' } });
    expect(r.results.every((x) => x.ok)).toBe(true);
    const fabrics = (await kernel.listControllers()).filter((c) => c.subsysnqn !== DISCOVERY_NQN);
    expect(fabrics.map((c) => c.subsysnqn).sort()).toEqual([NQN_A, NQN_B, NQN_C].sort());
  });

  it('connect-all reports per-entry failures without stopping', async () => {
    await connect(h.ctx, A, { owner: 'k8s' });
    const r = await connectAll(h.ctx, DISC1, { owner: 'stas' });
    const bad = r.results.filter((x) => !x.ok);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({
      target: { subnqn: NQN_A },
      error: expect.stringMatching(/owned by "k8s"/),
    });
    expect(r.results.filter((x) => x.ok)).toHaveLength(2);
  });
});

describe('disconnect-all', () => {
  beforeEach(async () => {
    await connect(h.ctx, A, { owner: 'stas' }); // nvme0
    await connect(h.ctx, B); // nvme1, unowned
    await connect(h.ctx, C, { owner: 'k8s' }); // nvme2
  });

  it('default: only the unowned one, with audit records for every decision', async () => {
    const { plan, results } = await disconnectAll(h.ctx, {});
    expect(plan.map((p) => [p.device, p.action])).toEqual([
      ['nvme0', 'skip'],
      ['nvme1', 'disconnect'],
      ['nvme2', 'skip'],
    ]);
    expect(results).toEqual([{ device: 'nvme1', ok: true }]);
    expect((await h.kernel.listControllers()).map((c) => c.device)).toEqual(['nvme0', 'nvme2']);
    expect(h.events.filter((e) => e.action === 'disconnect-all-skip').map((e) => e.device)).toEqual([
      'nvme0',
      'nvme2',
    ]);
    expect(h.events.filter((e) => e.action === 'disconnect-all-disconnect').map((e) => e.device)).toEqual([
      'nvme1',
    ]);
  });

  it('--owner k8s and --force', async () => {
    expect((await disconnectAll(h.ctx, { owner: 'k8s' })).results).toEqual([{ device: 'nvme2', ok: true }]);
    const f = await disconnectAll(h.ctx, { force: true });
    expect(f.results?.map((r) => r.device)).toEqual(['nvme0', 'nvme1']);
    expect(await h.kernel.listControllers()).toEqual([]);
  });

  it('dry run changes nothing', async () => {
    const r = await disconnectAll(h.ctx, { force: true }, { dryRun: true });
    expect(r.results).toBeUndefined();
    expect(await h.kernel.listControllers()).toHaveLength(3);
  });

  it('re-checks under the lock: a controller claimed after planning is not deleted', async () => {
    const plan = await planFromHost(h.ctx, {});
    h.registry.create('nvme1', { owner: 'late', seqnum: h.kernel.ueventSeqnum() });
    const done = await executeDisconnectAll(plan, {
      kernel: h.kernel,
      registry: h.registry,
      audit: h.ctx.audit,
    });
    expect(done.results).toEqual([]);
    expect(done.plan[1]).toMatchObject({
      action: 'skip',
      reason: 'changed since planned: now owned by late',
    });
    // the plan is a value: the outcome is a new plan, the one executed is unchanged
    expect(plan[1]).toMatchObject({ action: 'disconnect', reason: 'unowned (no registry entry)' });
    expect(await h.kernel.controller('nvme1')).not.toBeNull();
  });

  it('re-checks the identity: a recycled instance is not deleted', async () => {
    const plan = await planFromHost(h.ctx, {});
    await h.kernel.deleteController('nvme1');
    await connect(h.ctx, { ...B, hostnqn: 'nqn.2024-01.io.example:other-host' }); // takes nvme1 again
    const done = await executeDisconnectAll(plan, { kernel: h.kernel, registry: h.registry });
    expect(done.results).toEqual([]);
    expect(done.plan[1]?.reason).toMatch(/instance now belongs to another controller/);
    expect(plan[1]?.action).toBe('disconnect');
  });

  it('reports partial failure per controller', async () => {
    await connect(h.ctx, { ...B, duplicate_connect: true }); // nvme3, unowned
    const del = h.kernel.deleteController.bind(h.kernel);
    h.kernel.deleteController = async (d) => {
      if (d === 'nvme3')
        throw Object.assign(new Error('nvme3: the kernel returned EBUSY'), { code: 'EBUSY' });
      return del(d);
    };
    const { results } = await disconnectAll(h.ctx, {});
    expect(results).toEqual([
      { device: 'nvme1', ok: true },
      { device: 'nvme3', ok: false, error: 'nvme3: the kernel returned EBUSY' },
    ]);
    expect(h.events.some((e) => e.action === 'disconnect-failed' && e.device === 'nvme3')).toBe(true);
  });

  it('--owner with --force is a usage error', async () => {
    await rejects(disconnectAll(h.ctx, { owner: 'x', force: true }), 'EUSAGE', /mutually exclusive/);
  });
});
