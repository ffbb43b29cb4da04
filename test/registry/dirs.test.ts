import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Sandbox, codeOf, mode, sandbox } from './helpers.js';

let sb: Sandbox | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  sb?.cleanup();
  sb = undefined;
});

describe('directories the library creates', () => {
  it('are 0755 under umask 077, parents of the root included', () => {
    sb = sandbox();
    const s = sb;
    const old = process.umask(0o077);
    try {
      s.open().create('nvme1', { owner: 'stas', seqnum: 1 });
    } finally {
      process.umask(old);
    }
    // base/run and base/run/nvme did not exist: created by the library with the root
    for (const d of [
      path.join(s.base, 'run'),
      path.join(s.base, 'run', 'nvme'),
      s.root,
      path.join(s.root, 'nvme1'),
    ])
      expect(mode(d).toString(8), d).toBe('755');
    expect(mode(path.join(s.root, 'nvme1', 'owner')).toString(8)).toBe('644');
  });

  it('a missing root on a read-only file system reports EROFS, not ENOENT', () => {
    sb = sandbox();
    const s = sb;
    // the seam: mkdir fails as it does on a read-only mount (the parent exists, the root cannot be made)
    const real = fs.mkdirSync;
    vi.spyOn(fs, 'mkdirSync').mockImplementation(((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
      if (String(p).startsWith(s.base)) {
        throw Object.assign(new Error(`EROFS: read-only file system, mkdir '${String(p)}'`), {
          code: 'EROFS',
          errno: -30,
          syscall: 'mkdir',
        });
      }
      return real(p, o);
    }) as typeof fs.mkdirSync);
    let err: unknown;
    try {
      s.open().create('nvme1', { owner: 'stas', seqnum: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EROOT', details: { errno: 'EROFS' } });
    const msg = (err as Error).message;
    expect(msg).toMatch(/EROFS/);
    expect(msg).toContain('NVMF_REGISTRY_ROOT');
    expect(msg).not.toMatch(/ENOENT|run as root/);
  });

  it('a root that is not a directory: the advice names the setting, never "remove it"', () => {
    sb = sandbox();
    fs.mkdirSync(path.dirname(sb.root), { recursive: true });
    fs.writeFileSync(sb.root, 'a typo in NVMF_REGISTRY_ROOT named this file\n');
    const reg = sb.open();
    for (const run of [() => reg.list(), () => reg.create('nvme1', { owner: 'stas', seqnum: 1 })]) {
      let msg = '';
      try {
        run();
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toContain('NVMF_REGISTRY_ROOT');
      expect(msg).not.toContain('remove it');
    }
    expect(codeOf(() => reg.list())).toBe('ENOT_DIR');
    expect(fs.readFileSync(sb.root, 'utf8')).toContain('typo');
  });
});
