import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNvmfError } from '../../src/errors.js';
import { MAX_VALUE_BYTES } from '../../src/registry/index.js';
import { lockPath } from '../../src/registry/lock.js';
import { holdFlock } from './lock-holder.js';
import { codeOf, mode, type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe('no registry yet', () => {
  it('reads as empty and creates nothing', () => {
    const reg = sb.open();
    expect(reg.read('nvme1')).toBeNull();
    expect(reg.readAttr('nvme1', 'owner')).toBeNull();
    expect(reg.list()).toEqual({ live: [], stale: [] });
    expect(reg.liveIntents()).toEqual([]);
    expect(reg.delete('nvme1')).toBe(false);
    expect(reg.disown('nvme1')).toEqual({ prevOwner: null });
    expect(reg.gc().removed).toEqual([]);
    expect(fs.existsSync(sb.root)).toBe(false);
  });

  it('the first write creates the root 0755 and stamps the boot id', () => {
    sb.open().create('nvme1', { owner: 'stas', seqnum: 5 });
    expect(mode(sb.root)).toBe(0o755);
    expect(fs.readFileSync(path.join(sb.root, '.boot_id'), 'utf8')).toBe(
      '11111111-2222-3333-4444-555555555555\n',
    );
  });
});

describe('create / read / list', () => {
  it('creates an entry atomically with owner and seqnum, and reads it back', () => {
    const reg = sb.open();
    sb.nodes.add('nvme3');
    const e = reg.create('nvme3', { owner: 'stas', seqnum: 4711 });
    expect(e).toEqual({
      device: 'nvme3',
      owner: 'stas',
      seqnum: 4711,
      attrs: {},
      live: true,
      identity: null,
      verdict: { kind: 'owned', owner: 'stas' },
    });
    expect(reg.read('nvme3')).toEqual(e);
    expect(reg.readAttr('nvme3', 'owner')).toBe('stas');
    expect(reg.readAttr('nvme3', 'seqnum')).toBe('4711');
    expect(reg.readAttr('nvme3', 'nothing')).toBeNull();
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', 'nvme3']);
    expect(sb.events).toEqual([{ action: 'entry-created', device: 'nvme3', owner: 'stas', seqnum: 4711 }]);
  });

  it('creates an unowned entry (stamp only)', () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: null, seqnum: 1 });
    expect(fs.readdirSync(path.join(sb.root, 'nvme0'))).toEqual(['seqnum']);
    expect(reg.read('nvme0')?.owner).toBeNull();
  });

  it('replaces a stale entry of a recycled instance, dropping its private attributes', () => {
    const reg = sb.open();
    reg.create('nvme4', { owner: 'old', seqnum: 10 });
    reg.setAttr('nvme4', 'note', 'old data');
    sb.events.length = 0;
    reg.create('nvme4', { owner: 'new', seqnum: 20 });
    expect(reg.read('nvme4')).toMatchObject({ owner: 'new', seqnum: 20, attrs: {} });
    expect(fs.readdirSync(sb.root).filter((n) => n.startsWith('.nvme'))).toEqual([]);
    expect(sb.events[0]).toMatchObject({ action: 'entry-created', owner: 'new', prevOwner: 'old' });
  });

  it('lists live and stale entries in natural order', () => {
    const reg = sb.open();
    for (const n of [10, 2, 1, 33, 0]) reg.create(`nvme${n}`, { owner: `o${n}`, seqnum: n });
    sb.nodes.add('nvme10');
    sb.nodes.add('nvme2');
    sb.nodes.add('nvme0');
    const { live, stale } = reg.list();
    expect(live.map((e) => e.device)).toEqual(['nvme0', 'nvme2', 'nvme10']);
    expect(stale.map((e) => e.device)).toEqual(['nvme1', 'nvme33']);
    expect(live.every((e) => e.live) && stale.every((e) => !e.live)).toBe(true);
  });

  it('the default liveness check looks for the node under the dev root', () => {
    const reg = sb.open({ deviceNodeExists: undefined });
    reg.create('nvme5', { owner: 'x', seqnum: 1 });
    expect(reg.read('nvme5')?.live).toBe(false);
    fs.writeFileSync(path.join(sb.dev, 'nvme5'), '');
    expect(reg.read('nvme5')?.live).toBe(true);
  });

  it('reports unreadable entries in list instead of failing', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'ok', seqnum: 1 });
    reg.create('nvme2', { owner: 'x', seqnum: 2 });
    fs.writeFileSync(path.join(sb.root, 'nvme2', 'owner'), 'a/b\n');
    reg.create('nvme3', { owner: 'x', seqnum: 3 });
    fs.writeFileSync(path.join(sb.root, 'nvme3', 'seqnum'), 'soon\n');
    fs.symlinkSync('/etc', path.join(sb.root, 'nvme4'));
    fs.writeFileSync(path.join(sb.root, 'nvme5'), 'a file\n');
    const { stale } = reg.list();
    expect(stale.map((e) => [e.device, e.error?.code ?? null])).toEqual([
      ['nvme1', null],
      ['nvme2', 'EINVALID_OWNER'],
      ['nvme3', 'EINVALID_VALUE'],
      ['nvme4', 'ESYMLINK'],
      ['nvme5', 'ENOT_DIR'],
    ]);
  });

  it('rejects bad input on every path, reads included', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    expect(codeOf(() => reg.read('../nvme1'))).toBe('EINVALID_DEVICE');
    expect(codeOf(() => reg.readAttr('nvme1', '../../../etc/passwd'))).toBe('EINVALID_ATTR');
    expect(codeOf(() => reg.readAttr('nvme01', 'owner'))).toBe('EINVALID_DEVICE');
    expect(codeOf(() => reg.create('nvme-1', { owner: 'x', seqnum: 1 }))).toBe('EINVALID_DEVICE');
    expect(codeOf(() => reg.create('nvme2', { owner: 'a/b', seqnum: 1 }))).toBe('EINVALID_OWNER');
    expect(codeOf(() => reg.create('nvme2', { owner: 'x', seqnum: -1 }))).toBe('EINVALID_VALUE');
    expect(codeOf(() => reg.create('nvme2', { owner: 'x', seqnum: 1.5 }))).toBe('EINVALID_VALUE');
    expect(codeOf(() => reg.setAttr('nvme1', 'seqnum', '9'))).toBe('ERESERVED_ATTR');
    expect(codeOf(() => reg.unsetAttr('nvme1', 'seqnum'))).toBe('ERESERVED_ATTR');
    expect(codeOf(() => reg.setAttr('nvme1', 'a.b', 'v'))).toBe('EINVALID_ATTR');
    expect(codeOf(() => reg.setAttr('nvme1', 'note', 'a\nb'))).toBe('EINVALID_VALUE');
    expect(codeOf(() => reg.setAttr('nvme1', 'note', 'x'.repeat(MAX_VALUE_BYTES + 1)))).toBe(
      'EINVALID_VALUE',
    );
    expect(codeOf(() => reg.setAttr('nvme1', 'owner', 'a\u0085'))).toBe('EINVALID_OWNER');
    expect(codeOf(() => reg.claim('nvme1', '', {}))).toBe('EINVALID_OWNER');
    expect(codeOf(() => reg.delete('nvme'))).toBe('EINVALID_DEVICE');
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', 'nvme1']);
  });
});

describe('attributes', () => {
  it('sets, replaces and unsets a private attribute', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'stas', seqnum: 1 });
    reg.setAttr('nvme1', 'note', 'boot path SAN');
    reg.setAttr('nvme1', 'note', 'second');
    expect(reg.read('nvme1')?.attrs).toEqual({ note: 'second' });
    expect(fs.readFileSync(path.join(sb.root, 'nvme1', 'note'), 'utf8')).toBe('second\n');
    expect(reg.unsetAttr('nvme1', 'note')).toBe(true);
    expect(reg.unsetAttr('nvme1', 'note')).toBe(false);
    expect(fs.readdirSync(path.join(sb.root, 'nvme1')).sort()).toEqual(['owner', 'seqnum']);
    expect(sb.events.map((e) => e.action)).toEqual(['entry-created', 'attr-set', 'attr-set', 'attr-unset']);
    expect(JSON.stringify(sb.events)).not.toContain('boot path SAN');
  });

  it('needs an entry', () => {
    const reg = sb.open();
    expect(codeOf(() => reg.setAttr('nvme9', 'note', 'x'))).toBe('ENOT_REGISTERED');
    expect(codeOf(() => reg.claim('nvme9', 'x'))).toBe('ENOT_REGISTERED');
  });

  it('setAttr owner / unsetAttr owner are claim and disown', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: null, seqnum: 1 });
    reg.setAttr('nvme1', 'owner', 'stas');
    expect(reg.readAttr('nvme1', 'owner')).toBe('stas');
    expect(reg.unsetAttr('nvme1', 'owner')).toBe(true);
    expect(reg.read('nvme1')?.owner).toBeNull();
    expect(sb.events.map((e) => e.action)).toEqual(['entry-created', 'claim', 'disown']);
  });
});

describe('claim / disown / delete', () => {
  it('claim with a seqnum creates an absent entry in the same locked step', () => {
    const reg = sb.open();
    // Only the entry of a live controller is created.
    expect(codeOf(() => reg.claim('nvme2', 'stas', { expect: null, seqnum: 9 }))).toBe('ENO_CONTROLLER');
    sb.nodes.add('nvme2');
    sb.nodes.add('nvme3');
    expect(codeOf(() => reg.claim('nvme2', 'stas', { expect: null }))).toBe('ENOT_REGISTERED');
    expect(codeOf(() => reg.claim('nvme2', 'stas', { expect: 'nbft', seqnum: 9 }))).toBe('EOWNER_CONFLICT');
    expect(reg.read('nvme2')).toBeNull();
    expect(reg.claim('nvme2', 'stas', { expect: null, seqnum: 9 })).toEqual({
      prevOwner: null,
      created: true,
    });
    expect(reg.read('nvme2')).toMatchObject({ owner: 'stas', seqnum: 9, attrs: {} });
    expect(fs.readFileSync(path.join(sb.root, 'nvme2', 'owner'), 'utf8')).toBe('stas\n');
    // Present now: a plain compare-and-set that keeps the original stamp.
    expect(codeOf(() => reg.claim('nvme2', 'k8s', { expect: null, seqnum: 10 }))).toBe('EOWNER_CONFLICT');
    expect(reg.claim('nvme2', 'k8s', { expect: 'stas', seqnum: 10 })).toEqual({
      prevOwner: 'stas',
      created: false,
    });
    expect(reg.read('nvme2')?.seqnum).toBe(9);
    expect(reg.claim('nvme3', 'k8s', { expect: 'nbft', force: true, seqnum: 11 })).toEqual({
      prevOwner: null,
      created: true,
    });
    expect(codeOf(() => reg.claim('nvme4', 'k8s', { seqnum: -1 }))).toMatch(/^EINVALID/);
    expect(sb.events.filter((e) => e.action === 'entry-created')).toEqual([
      {
        action: 'entry-created',
        device: 'nvme2',
        owner: 'stas',
        seqnum: 9,
        reason: 'claimed a controller that had no entry',
      },
      {
        action: 'entry-created',
        device: 'nvme3',
        owner: 'k8s',
        seqnum: 11,
        reason: 'claimed a controller that had no entry',
      },
    ]);
    expect(fs.readdirSync(sb.root).filter((n) => n.startsWith('.') && n !== '.boot_id')).toEqual([]);
  });

  it('compare-and-set semantics of expect', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: null, seqnum: 7 });
    expect(reg.claim('nvme1', 'stas', { expect: null })).toEqual({ prevOwner: null, created: false });
    const err = (() => {
      try {
        reg.claim('nvme1', 'other', { expect: null });
      } catch (e) {
        return e;
      }
    })();
    expect(isNvmfError(err, 'EOWNER_CONFLICT')).toBe(true);
    expect((err as Error).message).toContain('"stas"');
    expect(codeOf(() => reg.claim('nvme1', 'other', { expect: 'nbft' }))).toBe('EOWNER_CONFLICT');
    expect(reg.claim('nvme1', 'other', { expect: 'stas' })).toEqual({ prevOwner: 'stas', created: false });
    expect(reg.claim('nvme1', 'forced', { expect: null, force: true })).toEqual({
      prevOwner: 'other',
      created: false,
    });
    expect(reg.claim('nvme1', 'plain')).toEqual({ prevOwner: 'forced', created: false });
    expect(codeOf(() => reg.disown('nvme1', { expect: 'stas' }))).toBe('EOWNER_CONFLICT');
    expect(reg.disown('nvme1', { expect: 'plain' })).toEqual({ prevOwner: 'plain' });
    expect(reg.disown('nvme1')).toEqual({ prevOwner: null });
    // Reusing a controller keeps its original stamp.
    expect(reg.read('nvme1')?.seqnum).toBe(7);
    expect(sb.events.map((e) => [e.action, e.owner, e.prevOwner])).toEqual([
      ['entry-created', null, undefined],
      ['claim', 'stas', null],
      ['owner-changed', 'other', 'stas'],
      ['owner-changed', 'forced', 'other'],
      ['owner-changed', 'plain', 'forced'],
      ['disown', null, 'plain'],
    ]);
  });

  it('disown of an absent entry is a no-op unless a named owner is expected', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: null, seqnum: 1 });
    expect(reg.disown('nvme7')).toEqual({ prevOwner: null });
    expect(codeOf(() => reg.disown('nvme7', { expect: 'x' }))).toBe('EOWNER_CONFLICT');
  });

  it('delete renames away then purges, and reports whether it existed', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'stas', seqnum: 1 });
    expect(reg.delete('nvme1')).toBe(true);
    expect(reg.delete('nvme1')).toBe(false);
    expect(fs.readdirSync(sb.root)).toEqual(['.boot_id']);
    expect(sb.events.at(-1)).toEqual({ action: 'entry-removed', device: 'nvme1', prevOwner: 'stas' });
  });

  it('delete and replace purge whatever an entry holds without following a symlink out of it', () => {
    const outside = path.join(sb.base, 'outside');
    fs.mkdirSync(path.join(outside, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'keep'), 'keep\n');
    fs.writeFileSync(path.join(outside, 'sub', 'keep'), 'keep\n');
    const reg = sb.open();
    for (const device of ['nvme1', 'nvme2']) {
      reg.create(device, { owner: 'stas', seqnum: 1 });
      const dir = path.join(sb.root, device);
      fs.symlinkSync(outside, path.join(dir, 'link-to-dir'));
      fs.symlinkSync(path.join(outside, 'keep'), path.join(dir, 'link-to-file'));
      fs.mkdirSync(path.join(dir, 'nested', 'deeper'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'nested', 'deeper', 'f'), 'x\n');
      execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    }
    expect(reg.delete('nvme1')).toBe(true);
    reg.create('nvme2', { owner: 'new', seqnum: 2 });
    expect(fs.readdirSync(sb.root).sort()).toEqual(['.boot_id', 'nvme2']);
    expect(fs.readdirSync(path.join(sb.root, 'nvme2')).sort()).toEqual(['owner', 'seqnum']);
    expect(fs.readdirSync(outside).sort()).toEqual(['keep', 'sub']);
    expect(fs.readdirSync(path.join(outside, 'sub'))).toEqual(['keep']);
  });

  it('a held lock makes writers wait, then fail with ELOCKED naming device and lock', async () => {
    const reg = sb.open({ lockTimeoutMs: 200 });
    reg.create('nvme1', { owner: 'stas', seqnum: 1 });
    const holder = await holdFlock(lockPath(sb.root, 'nvme1'));
    try {
      const t0 = Date.now();
      let err: unknown;
      try {
        reg.claim('nvme1', 'x');
      } catch (e) {
        err = e;
      }
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
      expect(isNvmfError(err, 'ELOCKED')).toBe(true);
      expect((err as Error).message).toMatch(/nvme1.*\.nvme1\.flock/);
      expect(reg.readAttr('nvme1', 'owner')).toBe('stas');
    } finally {
      await holder.kill();
    }
  });

  it("a crashed holder's lock is free at once (the kernel dropped it), and its file is removed", async () => {
    const reg = sb.open({ lockTimeoutMs: 200 });
    reg.create('nvme1', { owner: 'stas', seqnum: 1 });
    const lp = lockPath(sb.root, 'nvme1');
    await (await holdFlock(lp)).kill();
    expect(fs.existsSync(lp)).toBe(true);
    reg.claim('nvme1', 'next');
    expect(reg.readAttr('nvme1', 'owner')).toBe('next');
    expect(fs.existsSync(lp)).toBe(false);
  });

  it('a lock directory left by an earlier version does not block writers', () => {
    const reg = sb.open({ lockTimeoutMs: 200 });
    fs.mkdirSync(path.join(sb.root, '.nvme1.lock'), { recursive: true });
    reg.create('nvme1', { owner: 'stas', seqnum: 1 });
    expect(reg.readAttr('nvme1', 'owner')).toBe('stas');
  });
});

describe('modes, symlinks, special files', () => {
  it('0755 / 0644 whatever the umask', () => {
    const prev = process.umask(0o077);
    try {
      const reg = sb.open();
      reg.create('nvme1', { owner: 'stas', seqnum: 1 });
      reg.setAttr('nvme1', 'note', 'x');
      reg.claim('nvme1', 'other');
      for (const d of [sb.root, path.join(sb.root, 'nvme1')]) expect(mode(d)).toBe(0o755);
      for (const f of ['owner', 'seqnum', 'note']) expect(mode(path.join(sb.root, 'nvme1', f))).toBe(0o644);
      expect(mode(path.join(sb.root, '.boot_id'))).toBe(0o644);
    } finally {
      process.umask(prev);
    }
  });

  it('refuses a symlink planted as the root', () => {
    const target = path.join(sb.base, 'elsewhere');
    fs.mkdirSync(target);
    fs.mkdirSync(path.dirname(sb.root), { recursive: true });
    fs.symlinkSync(target, sb.root);
    const reg = sb.open();
    expect(codeOf(() => reg.list())).toBe('ESYMLINK');
    expect(codeOf(() => reg.read('nvme1'))).toBe('ESYMLINK');
    expect(codeOf(() => reg.create('nvme1', { owner: 'x', seqnum: 1 }))).toBe('ESYMLINK');
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('refuses a symlink planted as an entry', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    const target = path.join(sb.base, 'victim');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'owner'), 'victim\n');
    fs.symlinkSync(target, path.join(sb.root, 'nvme2'));
    for (const op of [
      () => reg.read('nvme2'),
      () => reg.readAttr('nvme2', 'owner'),
      () => reg.setAttr('nvme2', 'note', 'x'),
      () => reg.claim('nvme2', 'x'),
      () => reg.delete('nvme2'),
      () => reg.create('nvme2', { owner: 'x', seqnum: 2 }),
    ]) {
      expect(codeOf(op)).toBe('ESYMLINK');
    }
    expect(fs.readdirSync(target)).toEqual(['owner']);
    expect(fs.readdirSync(sb.root).filter((n) => n.includes('.tmp.'))).toEqual([]);
  });

  it('refuses a symlink planted as an attribute', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    fs.symlinkSync('/etc/hostname', path.join(sb.root, 'nvme1', 'note'));
    expect(codeOf(() => reg.readAttr('nvme1', 'note'))).toBe('ESYMLINK');
    expect(codeOf(() => reg.read('nvme1'))).toBe('ESYMLINK');
    fs.unlinkSync(path.join(sb.root, 'nvme1', 'owner'));
    fs.symlinkSync('/etc/hostname', path.join(sb.root, 'nvme1', 'owner'));
    expect(codeOf(() => reg.claim('nvme1', 'y', { expect: null }))).toBe('ESYMLINK');
  });

  it('a FIFO or a directory as an attribute is an error, not a hang', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    execFileSync('mkfifo', [path.join(sb.root, 'nvme1', 'fifo')]);
    fs.mkdirSync(path.join(sb.root, 'nvme1', 'adir'));
    // In a child with a timeout, so a regression shows as a failure rather than a stuck suite.
    const script = `
      const { Registry } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../src/registry/index.ts'))});
      const reg = Registry.open({ roots: { registry: ${JSON.stringify(sb.root)} }, env: {}, audit: { record() {} } });
      const out = [];
      for (const a of ['fifo', 'adir']) { try { reg.readAttr('nvme1', a); out.push('none'); } catch (e) { out.push(e.code); } }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout.trim())).toEqual(['ENOT_FILE', 'ENOT_FILE']);
  });

  it('read() and list() refuse a FIFO, a directory and an oversized file as an attribute, without hanging', () => {
    const reg = sb.open();
    for (const d of ['nvme1', 'nvme2', 'nvme3', 'nvme4']) reg.create(d, { owner: 'x', seqnum: 1 });
    execFileSync('mkfifo', [path.join(sb.root, 'nvme1', 'fifo')]);
    fs.mkdirSync(path.join(sb.root, 'nvme2', 'adir'));
    fs.writeFileSync(path.join(sb.root, 'nvme3', 'big'), 'x'.repeat(10_000));
    fs.writeFileSync(path.join(sb.root, 'nvme4', 'empty'), '');
    fs.writeFileSync(path.join(sb.root, 'nvme4', 'blank'), '\n');
    const script = `
      const { Registry } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../src/registry/index.ts'))});
      const reg = Registry.open({ roots: { registry: ${JSON.stringify(sb.root)} }, env: {}, audit: { record() {} } });
      const out = {};
      for (const d of ['nvme1', 'nvme2', 'nvme3']) { try { reg.read(d); out[d] = 'none'; } catch (e) { out[d] = e.code; } }
      const l = reg.list();
      out.list = [...l.live, ...l.stale].map((e) => e.device + ':' + (e.error?.code ?? JSON.stringify(e.attrs)));
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout.trim())).toEqual({
      nvme1: 'ENOT_FILE',
      nvme2: 'ENOT_FILE',
      nvme3: 'ETOO_LARGE',
      // a 0-byte file reads as absent, a lone newline as the empty value (libnvme's reading)
      list: ['nvme1:ENOT_FILE', 'nvme2:ENOT_FILE', 'nvme3:ETOO_LARGE', 'nvme4:{"blank":""}'],
    });
  });

  it('an attribute readdir typed as a file but replaced before the read is still classified, not read or waited on', () => {
    // The race readRegularAttrFile covers, staged directly: the name is now something else.
    execFileSync('mkfifo', [path.join(sb.base, 'fifo')]);
    fs.mkdirSync(path.join(sb.base, 'adir'));
    fs.writeFileSync(path.join(sb.base, 'big'), 'x'.repeat(10_000));
    fs.writeFileSync(path.join(sb.base, 'empty'), '');
    fs.writeFileSync(path.join(sb.base, 'ok'), 'value\r\n');
    fs.symlinkSync(path.join(sb.base, 'ok'), path.join(sb.base, 'link'));
    const script = `
      const { readRegularAttrFile } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../src/registry/fsx.ts'))});
      const out = [];
      for (const p of ['fifo', 'adir', 'big', 'empty', 'ok', 'link', 'missing', '/dev/null', '/dev/zero']) {
        try { out.push(readRegularAttrFile(p.startsWith('/') ? p : ${JSON.stringify(sb.base)} + '/' + p)); } catch (e) { out.push(e.code); }
      }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout.trim())).toEqual([
      'ENOT_FILE',
      'ENOT_FILE',
      'ETOO_LARGE',
      null,
      'value',
      'ESYMLINK',
      null,
      'ENOT_FILE',
      'ENOT_FILE',
    ]);
  });

  it('list answers guard 1 from the dev root by default, and asks an injected check per entry', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'a', seqnum: 1 });
    reg.create('nvme2', { owner: 'b', seqnum: 2 });
    fs.writeFileSync(path.join(sb.dev, 'nvme2'), '');
    const byDefault = sb.open({ deviceNodeExists: undefined });
    const l = byDefault.list();
    expect(l.live.map((e) => e.device)).toEqual(['nvme2']);
    expect(l.stale.map((e) => e.device)).toEqual(['nvme1']);
    expect(byDefault.read('nvme2')?.live).toBe(true);
    expect(byDefault.read('nvme1')?.live).toBe(false);
    sb.nodes.add('nvme1');
    expect(reg.list().live.map((e) => e.device)).toEqual(['nvme1']);
    const noDev = sb.open({
      deviceNodeExists: undefined,
      roots: { registry: sb.root, dev: path.join(sb.base, 'nodev'), sysfs: sb.sysfs },
    });
    expect(noDev.list().stale.map((e) => e.device)).toEqual(['nvme1', 'nvme2']);
  });

  it('an oversized attribute file is refused', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    fs.writeFileSync(path.join(sb.root, 'nvme1', 'big'), 'x'.repeat(10_000));
    expect(codeOf(() => reg.readAttr('nvme1', 'big'))).toBe('ETOO_LARGE');
  });

  it('an unwritable root is an error and leaves nothing half-written', () => {
    fs.writeFileSync(path.join(sb.base, 'run'), 'a file where a directory should be');
    const reg = sb.open();
    const err = (() => {
      try {
        reg.create('nvme1', { owner: 'x', seqnum: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(isNvmfError(err) && ['EROOT', 'EIO'].includes(err.code)).toBe(true);
    expect((err as Error).message).toContain(sb.root);
    expect(fs.readFileSync(path.join(sb.base, 'run'), 'utf8')).toMatch(/^a file/);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only root is EROOT', () => {
    const reg = sb.open();
    reg.create('nvme1', { owner: 'x', seqnum: 1 });
    fs.chmodSync(sb.root, 0o555);
    try {
      expect(codeOf(() => reg.create('nvme2', { owner: 'x', seqnum: 2 }))).toBe('EROOT');
    } finally {
      fs.chmodSync(sb.root, 0o755);
    }
  });
});
