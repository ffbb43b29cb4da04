import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fdWriter } from '../../src/cli/fd-writer.js';

describe('fdWriter (the CLI stdout/stderr without a stream)', () => {
  it('writes every byte of each text, in order, to the descriptor', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-fdw-')), 'out');
    const fd = fs.openSync(file, 'w');
    try {
      const w = fdWriter(fd);
      const big = 'é'.repeat(100_000);
      w.write('nvme0  stas\n');
      w.write(big);
      w.write('\n');
      expect(fs.readFileSync(file, 'utf8')).toBe(`nvme0  stas\n${big}\n`);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('a failed write goes to the error listeners, with its errno code, and is not thrown', () => {
    const fd = fs.openSync(os.devNull, 'r');
    fs.closeSync(fd);
    const seen: (string | undefined)[] = [];
    const w = fdWriter(fd).on('error', (e) => seen.push(e.code));
    expect(() => w.write('lost')).not.toThrow();
    expect(seen).toEqual(['EBADF']);
  });

  it('without a listener a failed write throws', () => {
    const fd = fs.openSync(os.devNull, 'r');
    fs.closeSync(fd);
    expect(() => fdWriter(fd).write('lost')).toThrow(/EBADF/);
  });

  it.skipIf(!fs.existsSync('/dev/full'))('a full device (ENOSPC) is reported, not retried', () => {
    const fd = fs.openSync('/dev/full', 'w');
    try {
      const seen: (string | undefined)[] = [];
      fdWriter(fd)
        .on('error', (e) => seen.push(e.code))
        .write('x');
      expect(seen).toEqual(['ENOSPC']);
    } finally {
      fs.closeSync(fd);
    }
  });
});
