import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { intentMatches } from '../../src/registry/index.js';
import { lockPath } from '../../src/registry/lock.js';
import { mode, type Sandbox, sandbox } from './helpers.js';
import { holdFlock } from './lock-holder.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/libnvme/registry');

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

/** Copy the fixture and give it the modes libnvme creates (git keeps no directory modes). */
function installFixture(): void {
  fs.cpSync(FIXTURE, sb.root, { recursive: true });
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(sb.root);
}

describe('libnvme interop', () => {
  it('reads a tree in libnvme format', () => {
    installFixture();
    sb.nodes.add('nvme1');
    sb.nodes.add('nvme3');
    sb.nodes.add('nvme10');
    // The 0-byte owner is old (the hand-edit rule's "being written" is the recent kind).
    const emptyOwner = path.join(sb.root, 'nvme10', 'owner');
    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(emptyOwner, old, old);
    const reg = sb.open();
    const { live, stale } = reg.list();
    const owned = (owner: string) => ({ identity: null, verdict: { kind: 'owned', owner } });
    expect(live).toEqual([
      { device: 'nvme1', owner: 'nbft', seqnum: 4711, attrs: {}, live: true, ...owned('nbft') },
      {
        device: 'nvme3',
        owner: 'stas',
        seqnum: 5000,
        attrs: { note: 'boot path SAN' },
        live: true,
        ...owned('stas'),
      },
      {
        device: 'nvme10',
        owner: null,
        seqnum: 6000,
        attrs: {},
        live: true,
        identity: null,
        verdict: { kind: 'unowned' },
        ownerEmptySince: fs.statSync(emptyOwner).mtimeMs,
      },
    ]);
    expect(stale).toEqual([
      {
        device: 'nvme2',
        owner: null,
        seqnum: 12,
        attrs: {},
        live: false,
        identity: null,
        verdict: { kind: 'unowned' },
      },
    ]);
    expect(reg.readAttr('nvme10', 'owner')).toBeNull();
    expect(reg.readAttr('nvme3', 'owner')).toBe('stas');
  });

  it('writes entries byte-identical to libnvme, with its modes', () => {
    installFixture();
    const ours = path.join(sb.base, 'ours');
    const reg = sb.open({ roots: { registry: ours, dev: sb.dev, sysfs: sb.sysfs } });
    reg.create('nvme1', { owner: 'nbft', seqnum: 4711 });
    const theirs = path.join(sb.root, 'nvme1');
    const mine = path.join(ours, 'nvme1');
    expect(fs.readdirSync(mine).sort()).toEqual(fs.readdirSync(theirs).sort());
    for (const f of fs.readdirSync(theirs)) {
      expect(fs.readFileSync(path.join(mine, f))).toEqual(fs.readFileSync(path.join(theirs, f)));
      expect(mode(path.join(mine, f))).toBe(mode(path.join(theirs, f)));
    }
    expect(mode(mine)).toBe(mode(theirs));
    reg.setAttr('nvme1', 'note', 'boot path SAN');
    expect(fs.readFileSync(path.join(mine, 'note'))).toEqual(
      fs.readFileSync(path.join(sb.root, 'nvme3', 'note')),
    );
  });
});

describe('gc', () => {
  const HOUR = 3_600_000;
  it('sweeps temp dirs, trash, attribute temps, old lock directories and dead intents, after the grace period', () => {
    const reg = sb.open();
    sb.nodes.add('nvme1');
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    fs.mkdirSync(path.join(sb.root, '.nvme2.tmp.999999.ab'));
    fs.mkdirSync(path.join(sb.root, '.nvme3.trash.999999.cd'));
    fs.writeFileSync(path.join(sb.root, 'nvme1', '.note.tmp.999999.ef'), 'half');
    fs.writeFileSync(path.join(sb.root, 'nvme1', 'owner.tmp.Ab12Cd'), 'half'); // libnvme's temp name
    fs.mkdirSync(path.join(sb.root, '.nvme4.lock')); // an earlier version's lock directory
    fs.writeFileSync(
      path.join(sb.root, '.intent.999999.0a'),
      JSON.stringify({
        pid: 999999,
        owner: 'stas',
        target: { transport: 'tcp', subsysnqn: 'nqn.x' },
        startedAt: 1,
      }),
    );
    fs.writeFileSync(path.join(sb.root, '.unknown'), 'not ours to judge');

    // Within the grace period only the dead process's intent goes.
    expect(reg.gc().removed.map((r) => r.kind)).toEqual(['intent']);
    const later = sb.open({ now: () => Date.now() + HOUR });
    const dry = later.gc({ dryRun: true });
    expect(dry.removed.map((r) => r.kind).sort()).toEqual([
      'attr-temp',
      'attr-temp',
      'lock',
      'temp',
      'trash',
    ]);
    expect(fs.existsSync(path.join(sb.root, '.nvme2.tmp.999999.ab'))).toBe(true);
    sb.events.length = 0;
    const real = later.gc();
    expect(real.removed).toEqual(dry.removed.map((r) => r));
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', '.unknown', 'nvme1']);
    expect(fs.readdirSync(path.join(sb.root, 'nvme1')).sort()).toEqual(['owner', 'seqnum']);
    expect(sb.events.every((e) => e.action === 'gc-removed' && e.reason)).toBe(true);
    expect(sb.events).toHaveLength(5);
  });

  it("sweeps libnvme's own leftovers (its temp dir, trash and attribute temp names) after the same grace", () => {
    const reg = sb.open();
    sb.nodes.add('nvme1');
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    // libnvme's names: mkdtemp `.nvmeN.tmp.XXXXXX` and `.trash.XXXXXX`, mkstemp `attr.tmp.XXXXXX`
    const temp = path.join(sb.root, '.nvme5.tmp.Ab12Cd');
    const trash = path.join(sb.root, '.trash.Xy34Zw');
    for (const d of [temp, trash]) {
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'owner'), 'stas\n');
      fs.writeFileSync(path.join(d, 'seqnum'), '42\n');
    }
    fs.writeFileSync(path.join(sb.root, 'nvme1', 'note.tmp.Qw56Er'), 'half');
    fs.mkdirSync(path.join(sb.root, '.trashy')); // not a trash name: not ours to judge

    expect(reg.gc().removed).toEqual([]); // young: a libnvme writer may be mid-way
    const later = sb.open({ now: () => Date.now() + HOUR });
    const report = later.gc();
    expect(report.removed.map((r) => [r.kind, path.basename(r.path)]).sort()).toEqual([
      ['attr-temp', 'note.tmp.Qw56Er'],
      ['temp', '.nvme5.tmp.Ab12Cd'],
      ['trash', '.trash.Xy34Zw'],
    ]);
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', '.trashy', 'nvme1']);
    expect(reg.read('nvme1')?.owner).toBe('x');
  });

  it('removes a lock file nobody holds at any age, never a held one, and takes no entry lock for it', async () => {
    const reg = sb.open({ lockTimeoutMs: 200 });
    const idle = lockPath(sb.root, 'nvme5');
    const busy = lockPath(sb.root, 'nvme6');
    reg.create('nvme6', { owner: 'x', seqnum: 1 });
    sb.nodes.add('nvme6');
    await (await holdFlock(idle)).kill(); // a crashed holder's file
    const holder = await holdFlock(busy);
    try {
      const dry = reg.gc({ dryRun: true });
      expect(dry.removed.map((r) => [r.kind, r.device])).toEqual([['lock', 'nvme5']]);
      expect(fs.existsSync(idle)).toBe(true);
      const report = reg.gc();
      expect(report.removed.map((r) => [r.kind, r.device])).toEqual([['lock', 'nvme5']]);
      expect(fs.existsSync(idle)).toBe(false);
      expect(fs.existsSync(busy)).toBe(true);
    } finally {
      await holder.kill();
    }
    expect(reg.gc().removed.map((r) => [r.kind, r.device])).toEqual([['lock', 'nvme6']]);
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', 'nvme6']);
  });

  it('removes entries whose controller is gone, with both udev guards', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'gone', seqnum: 100 });
    reg.create('nvme2', { owner: 'live', seqnum: 100 });
    reg.create('nvme3', { owner: 'fresh', seqnum: 5000 });
    reg.create('nvme4', { owner: 'bad', seqnum: 1 });
    fs.writeFileSync(path.join(sb.root, 'nvme4', 'seqnum'), 'junk\n');
    reg.create('nvme5', { owner: null, seqnum: 1 });
    fs.unlinkSync(path.join(sb.root, 'nvme5', 'seqnum')); // legacy entry, no stamp
    sb.nodes.add('nvme2');
    sb.seqnum.value = 1000;
    const report = reg.gc();
    expect(report.removed.map((r) => [r.device, r.kind])).toEqual([
      ['nvme1', 'entry'],
      ['nvme5', 'entry'],
    ]);
    expect(report.kept.map((r) => r.device)).toEqual(['nvme3', 'nvme4']);
    expect(report.kept[0]?.reason).toMatch(/stamp 5000 is not older than the removal reference 1000/);
    expect(report.kept[1]?.reason).toMatch(/unreadable/);
    expect(reg.list().live.map((e) => e.device)).toEqual(['nvme2']);
  });

  it('keeps gone-looking entries when the uevent seqnum cannot be read (fails closed)', () => {
    const reg = sb.open({
      readSeqnum: () => {
        throw new Error('no sysfs');
      },
    });
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    const report = reg.gc();
    expect(report.removed).toEqual([]);
    expect(report.kept[0]?.reason).toMatch(/seqnum is unreadable/);
  });

  it('clears a registry left from an earlier boot and restamps it', () => {
    const reg = sb.open();
    sb.nodes.add('nvme1');
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    reg.create('nvme2', { owner: 'y', seqnum: 2 });
    fs.writeFileSync(sb.bootIdPath, 'ffffffff-0000-0000-0000-000000000000\n');
    const report = sb.open().gc();
    expect(report.removed.map((r) => r.device)).toEqual(['nvme1', 'nvme2']);
    expect(report.removed.every((r) => r.reason.includes('earlier boot'))).toBe(true);
    expect(fs.readFileSync(path.join(sb.root, '.boot_id'), 'utf8')).toBe(
      'ffffffff-0000-0000-0000-000000000000\n',
    );
    expect(fs.readdirSync(sb.root)).toEqual(['.boot_id']);
  });

  it('isStale replaces guard 1; the stamp guard still applies', () => {
    const reg = sb.open();
    sb.nodes.add('nvme1');
    sb.nodes.add('nvme2');
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    reg.create('nvme2', { owner: 'x', seqnum: 2000 });
    const report = reg.gc({ isStale: () => true });
    expect(report.removed.map((r) => r.device)).toEqual(['nvme1']);
    expect(report.kept.map((r) => r.device)).toEqual(['nvme2']);
  });
});

describe('connect intents', () => {
  const target = {
    transport: 'tcp',
    traddr: '10.0.0.1',
    trsvcid: '4420',
    subsysnqn: 'nqn.2014-08.org.example:s1',
  };
  it('beginConnect writes an intent atomically; liveIntents sees it until end()', () => {
    const reg = sb.open();
    const intent = reg.beginConnect(target, 'stas');
    const names = fs.readdirSync(sb.root).filter((n) => n.startsWith('.intent'));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(new RegExp(`^\\.intent\\.${process.pid}\\.[0-9a-f]+$`));
    expect(mode(path.join(sb.root, names[0]!))).toBe(0o644);
    const live = reg.liveIntents();
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ pid: process.pid, owner: 'stas', target });
    expect(reg.list()).toEqual({ live: [], stale: [] });
    intent.end();
    intent.end();
    expect(reg.liveIntents()).toEqual([]);
  });

  it('rejects a bad owner or target before writing anything', () => {
    const reg = sb.open();
    expect(() => reg.beginConnect(target, 'a/b')).toThrow(/EINVALID_OWNER|invalid owner/);
    expect(() => reg.beginConnect({ ...target, subsysnqn: '' }, 'stas')).toThrow(/subsysnqn/);
    expect(fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((n) => n.includes('intent')) : []).toEqual(
      [],
    );
  });

  it('intentMatches compares the target with a controller', () => {
    const ctrl = {
      transport: 'tcp',
      subsysnqn: target.subsysnqn,
      hostnqn: 'nqn.host',
      address: { traddr: '10.0.0.1', trsvcid: '4420', src_addr: '10.0.0.9' },
    };
    const intent = { target };
    expect(intentMatches(intent, ctrl)).toBe(true);
    expect(intentMatches(intent, { ...ctrl, subsysnqn: 'nqn.other' })).toBe(false);
    expect(intentMatches(intent, { ...ctrl, transport: 'rdma' })).toBe(false);
    expect(intentMatches(intent, { ...ctrl, address: { ...ctrl.address, trsvcid: '4421' } })).toBe(false);
    expect(intentMatches(intent, { ...ctrl, address: { ...ctrl.address, traddr: '10.0.0.2' } })).toBe(false);
    expect(intentMatches({ target: { ...target, hostnqn: 'nqn.other' } }, ctrl)).toBe(false);
    expect(intentMatches({ target: { transport: 'tcp', subsysnqn: target.subsysnqn } }, ctrl)).toBe(true);
    // fields compare as the kernel compares them (strcmp): case counts
    expect(intentMatches({ target: { transport: 'TCP', subsysnqn: target.subsysnqn } }, ctrl)).toBe(false);
  });
});
