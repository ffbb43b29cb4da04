import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acpiTablesDir, readNbftTables } from '../../src/kernel/nbft.js';
import { buildNbft, sampleInput } from './build.js';

const dirs: string[] = [];
function sysfsRoot(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-nbft-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('readNbftTables', () => {
  it('finds no tables when the firmware directory is missing', async () => {
    expect(await readNbftTables({ sysfs: sysfsRoot() })).toEqual([]);
  });

  it('reads NBFT, NBFT1, NBFT2 ... in order, each with its table or its error, and nothing else', async () => {
    const sys = sysfsRoot();
    const dir = acpiTablesDir(sys);
    fs.mkdirSync(dir, { recursive: true });
    const second = sampleInput();
    second.subsystems[0] = {
      ...(second.subsystems[0] as (typeof second.subsystems)[number]),
      subsysNqn: 'nqn.2024-01.io.example:second',
    };
    fs.writeFileSync(path.join(dir, 'NBFT'), buildNbft(sampleInput()));
    fs.writeFileSync(path.join(dir, 'NBFT10'), buildNbft(second));
    const corrupt = buildNbft(sampleInput());
    corrupt[200] = (corrupt[200] as number) ^ 0xff; // checksum no longer zero
    fs.writeFileSync(path.join(dir, 'NBFT2'), corrupt);
    fs.mkdirSync(path.join(dir, 'NBFT3')); // not a file
    fs.writeFileSync(path.join(dir, 'DSDT'), 'other table');
    fs.writeFileSync(path.join(dir, 'NBFTX'), 'not a kernel name');
    fs.writeFileSync(path.join(dir, 'NBFT01'), 'not a kernel name');

    const got = await readNbftTables({ sysfs: sys });
    expect(got.map((r) => r.name)).toEqual(['NBFT', 'NBFT2', 'NBFT3', 'NBFT10']);
    const [a, b, c, d] = got;
    expect(a?.error).toBeNull();
    expect(a?.table?.name).toBe('NBFT');
    expect(a?.path).toBe(path.join(dir, 'NBFT'));
    expect(a?.table?.subsystems[0]?.subsysNqn).toBe('nqn.2024-01.io.example:boot');
    expect(b?.table).toBeNull();
    expect(b?.error?.code).toBe('ENBFT');
    expect(b?.error?.message).toMatch(/^NBFT table NBFT2: checksum: /);
    expect(c?.table).toBeNull();
    expect(c?.error?.code).toBe('EIO');
    expect(c?.error?.message).toContain('NBFT3');
    expect(d?.table?.name).toBe('NBFT10');
    expect(d?.table?.subsystems[0]?.subsysNqn).toBe('nqn.2024-01.io.example:second');
  });

  it('reports a table that vanished between listing and reading as EIO naming the table', async () => {
    const sys = sysfsRoot();
    const dir = acpiTablesDir(sys);
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(path.join(sys, 'gone'), path.join(dir, 'NBFT1'));
    const [r] = await readNbftTables({ sysfs: sys });
    expect(r?.name).toBe('NBFT1');
    expect(r?.table).toBeNull();
    expect(r?.error?.code).toBe('EIO');
    expect(r?.error?.message).toMatch(/NBFT1.*ENOENT/);
  });

  // root reads a mode-000 file, so only an unprivileged run can see the refusal
  it.skipIf(process.getuid?.() === 0)(
    'reports a table it may not read as EIO with the root-only hint',
    async () => {
      const sys = sysfsRoot();
      const dir = acpiTablesDir(sys);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'NBFT'), buildNbft(sampleInput()), { mode: 0 });
      const [r] = await readNbftTables({ sysfs: sys });
      expect(r?.error?.code).toBe('EIO');
      expect(r?.error?.message).toContain('root only');
    },
  );

  it('refuses roots without a sysfs path', async () => {
    await expect(readNbftTables({} as { sysfs: string })).rejects.toMatchObject({ code: 'EINVALID_OPTION' });
  });
});
