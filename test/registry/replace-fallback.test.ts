import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { errnoError } from '../../src/registry/fsx.js';
import { publishHooks } from '../../src/registry/registry.js';
import { type Sandbox, sandbox } from './helpers.js';

// A file system without RENAME_EXCHANGE: renameat2 answers EINVAL, as the kernel does there.
vi.mock('../../src/registry/rename-exchange.js', () => ({
  exchangePaths: () => {
    throw errnoError(22, 'renameat2');
  },
}));

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => {
  delete publishHooks.beforeRename;
  sb.cleanup();
});

describe('create() where the file system cannot exchange', () => {
  it('replaces the entry by two renames, whole, with nothing left behind', () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: 'old', seqnum: 10 });
    fs.writeFileSync(path.join(sb.root, 'nvme0', 'private'), 'x\n');
    reg.create('nvme0', { owner: 'new', seqnum: 20 });
    expect(reg.read('nvme0')).toMatchObject({ owner: 'new', seqnum: 20, attrs: {} });
    expect(sb.events.at(-1)).toMatchObject({ action: 'entry-created', prevOwner: 'old' });
    expect(fs.readdirSync(sb.root).filter((n) => n.startsWith('.nvme'))).toEqual([]);
  });

  it('still publishes when a lock-less remover takes the old entry between the lstat and the rename', () => {
    const reg = sb.open();
    reg.create('nvme0', { owner: 'old', seqnum: 10 });
    const attempts: number[] = [];
    publishHooks.beforeRename = (device, attempt) => {
      attempts.push(attempt);
      if (attempt === 1) fs.rmSync(path.join(sb.root, device), { recursive: true });
    };
    reg.create('nvme0', { owner: 'new', seqnum: 20 });
    expect(attempts).toEqual([1, 2]);
    expect(reg.read('nvme0')).toMatchObject({ owner: 'new', seqnum: 20 });
    expect(fs.readdirSync(sb.root).filter((n) => n.startsWith('.nvme'))).toEqual([]);
  });
});
