import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeGc, planGc } from '../../src/registry/gc.js';
import { lockPath } from '../../src/registry/lock.js';
import type { Registry, RegistryContext } from '../../src/registry/registry.js';
import { type Sandbox, sandbox } from './helpers.js';
import { holdFlock } from './lock-holder.js';

const HOUR = 3_600_000;

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

/** The internals Registry.gc hands to planGc and executeGc. */
function contextOf(reg: Registry): RegistryContext {
  return (reg as unknown as { context(): RegistryContext }).context();
}

/** Every name under the root with its file contents, to compare before and after. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, n.name);
      const rel = path.relative(root, p);
      if (n.isDirectory()) {
        out[rel] = '<dir>';
        walk(p);
      } else out[rel] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(root);
  return out;
}

/** A registry with one entry of a gone controller, one live, one too fresh, a temp dir and a dead intent. */
function litter(reg: Registry): void {
  reg.create('nvme1', { owner: 'gone', seqnum: 100 });
  reg.create('nvme2', { owner: 'live', seqnum: 100 });
  reg.create('nvme3', { owner: 'fresh', seqnum: 5000 });
  sb.nodes.add('nvme2');
  sb.seqnum.value = 1000;
  fs.mkdirSync(path.join(sb.root, '.nvme4.tmp.999999.ab'));
  fs.writeFileSync(
    path.join(sb.root, '.intent.999999.0a'),
    JSON.stringify({
      pid: 999999,
      owner: 's',
      target: { transport: 'tcp', subsysnqn: 'nqn.x' },
      startedAt: 1,
    }),
  );
}

describe('gc plans are values', () => {
  it('planGc removes nothing and says what it judged from; executeGc never changes the plan', () => {
    const reg = sb.open({ now: () => Date.now() + HOUR });
    litter(reg);
    const ctx = contextOf(reg);
    const before = snapshot(sb.root);
    sb.events.length = 0;
    const plan = planGc(ctx, {});
    expect(snapshot(sb.root)).toEqual(before);
    expect(sb.events).toEqual([]);
    expect(Object.isFrozen(plan) && Object.isFrozen(plan.remove) && plan.remove.every(Object.isFrozen)).toBe(
      true,
    );
    expect(plan).toMatchObject({
      root: sb.root,
      earlierBoot: false,
      bootId: '11111111-2222-3333-4444-555555555555',
      stampedBootId: '11111111-2222-3333-4444-555555555555',
      reference: 1000,
    });
    expect(plan.remove.map((i) => [i.kind, i.device ?? path.basename(i.path)])).toEqual([
      ['intent', '.intent.999999.0a'],
      ['temp', '.nvme4.tmp.999999.ab'],
      ['entry', 'nvme1'],
    ]);
    expect(plan.remove[0]?.pid).toBe(999999);
    expect(plan.remove[1]?.ageMs).toBeGreaterThan(HOUR / 2);
    expect(plan.remove[2]).toMatchObject({ stamp: 100, reference: 1000 });
    expect(plan.keep).toEqual([
      {
        path: path.join(sb.root, 'nvme3'),
        kind: 'entry',
        device: 'nvme3',
        reason: 'stamp 5000 is not older than the removal reference 1000',
      },
    ]);

    const copy = structuredClone(plan);
    const out = executeGc(ctx, plan);
    expect(plan).toEqual(copy);
    expect(out.removed.map((i) => i.device ?? path.basename(i.path))).toEqual([
      '.intent.999999.0a',
      '.nvme4.tmp.999999.ab',
      'nvme1',
    ]);
    expect(out.kept).toEqual([]);
    // One record per removal, nothing else.
    expect(sb.events.map((e) => [e.action, e.device ?? e.extra?.['kind']])).toEqual([
      ['gc-removed', 'intent'],
      ['gc-removed', 'temp'],
      ['gc-removed', 'nvme1'],
    ]);
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', 'nvme2', 'nvme3']);

    // Carried out again, the same plan finds everything already swept: no removal, no record.
    sb.events.length = 0;
    expect(executeGc(ctx, plan)).toEqual({ removed: [], kept: [] });
    expect(sb.events).toEqual([]);
    expect(plan).toEqual(copy);
  });

  it('a dry run is the plan: it removes and records nothing', () => {
    const reg = sb.open({ now: () => Date.now() + HOUR });
    litter(reg);
    const before = snapshot(sb.root);
    sb.events.length = 0;
    const dry = reg.gc({ dryRun: true });
    expect(snapshot(sb.root)).toEqual(before);
    expect(sb.events).toEqual([]);
    const plan = planGc(contextOf(reg), {});
    expect(dry).toEqual({
      dryRun: true,
      removed: plan.remove.map(({ path: p, kind, reason, device }) => ({
        path: p,
        kind,
        reason,
        ...(device ? { device } : {}),
      })),
      kept: plan.keep,
    });
    expect(reg.gc().removed).toEqual(dry.removed);
  });

  it('keeps an entry whose device node reappeared after planning', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 100 });
    const ctx = contextOf(reg);
    const plan = planGc(ctx, {});
    expect(plan.remove.map((i) => i.device)).toEqual(['nvme1']);
    sb.nodes.add('nvme1'); // a controller took the instance again
    sb.events.length = 0;
    const out = executeGc(ctx, plan);
    expect(out.removed).toEqual([]);
    expect(out.kept).toEqual([
      {
        path: path.join(sb.root, 'nvme1'),
        kind: 'entry',
        device: 'nvme1',
        reason: 'changed since planned: the controller is there again',
      },
    ]);
    expect(sb.events).toEqual([]);
    expect(reg.read('nvme1')?.owner).toBe('x');
  });

  it('keeps an entry replaced by a newer one after planning, even while its node is still absent', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'old', seqnum: 100 });
    const ctx = contextOf(reg);
    const plan = planGc(ctx, {});
    expect(plan.remove[0]).toMatchObject({ device: 'nvme1', stamp: 100, reference: 1000 });
    // A writer that does not take our lock (libnvme) replaced it for a controller that came
    // after the reference was read: its stamp is newer.
    reg.delete('nvme1');
    reg.create('nvme1', { owner: 'new', seqnum: 1001 });
    sb.events.length = 0;
    const out = executeGc(ctx, plan);
    expect(out.removed).toEqual([]);
    expect(out.kept.map((k) => [k.device, k.reason])).toEqual([
      ['nvme1', 'changed since planned: stamp 1001, planned from 100'],
    ]);
    expect(sb.events).toEqual([]);
    expect(reg.read('nvme1')?.owner).toBe('new');
  });

  it('keeps a lock file that someone took after planning', async () => {
    const reg = sb.open();
    const lp = lockPath(sb.root, 'nvme5');
    reg.create('nvme6', { owner: 'x', seqnum: 1 });
    sb.nodes.add('nvme6');
    await (await holdFlock(lp)).kill(); // a crashed holder's file
    const ctx = contextOf(reg);
    const plan = planGc(ctx, {});
    expect(plan.remove.map((i) => [i.kind, i.device])).toEqual([['lock', 'nvme5']]);
    const holder = await holdFlock(lp);
    try {
      const out = executeGc(ctx, plan);
      expect(out).toEqual({
        removed: [],
        kept: [
          {
            path: lp,
            kind: 'lock',
            device: 'nvme5',
            reason: 'changed since planned: the lock is held now',
          },
        ],
      });
      expect(fs.existsSync(lp)).toBe(true);
    } finally {
      await holder.kill();
    }
    expect(executeGc(ctx, plan).removed.map((i) => i.device)).toEqual(['nvme5']);
    expect(fs.existsSync(lp)).toBe(false);
  });

  it('refuses a plan made for another registry root', () => {
    const reg = sb.open();
    const other = sb.open({ roots: { registry: path.join(sb.base, 'other'), dev: sb.dev, sysfs: sb.sysfs } });
    other.create('nvme1', { owner: 'x', seqnum: 1 });
    const plan = planGc(contextOf(other), {});
    expect(() => executeGc(contextOf(reg), plan)).toThrow(/EINVALID_OPTION|not of/);
    expect(other.read('nvme1')?.owner).toBe('x');
  });
});

describe('gc execution re-checks what it moved', () => {
  it('puts back an entry a non-locking writer rewrote between the locked re-check and the rename (forced)', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'old', seqnum: 100 });
    const ctx = contextOf(reg);
    const plan = planGc(ctx, {});
    expect(plan.remove.map((i) => i.device)).toEqual(['nvme1']);
    // The execution's read under the lock is the last step before the rename: a writer that
    // ignores our lock (libnvme) rewrites the stamp right after it.
    const racing: RegistryContext = {
      ...ctx,
      readEntryIn: (dir, device) => {
        const e = ctx.readEntryIn(dir, device);
        fs.writeFileSync(path.join(dir, 'seqnum'), '1001\n');
        return e;
      },
    };
    sb.events.length = 0;
    const out = executeGc(racing, plan);
    expect(out).toEqual({
      removed: [],
      kept: [
        {
          path: path.join(sb.root, 'nvme1'),
          kind: 'entry',
          device: 'nvme1',
          reason: 'changed since planned: replaced during removal; restored',
        },
      ],
    });
    expect(sb.events).toEqual([]);
    expect(reg.read('nvme1')).toMatchObject({ owner: 'old', seqnum: 1001 });
    expect(fs.readdirSync(sb.root).filter((n) => n.includes('.trash.'))).toEqual([]);
  });
});
