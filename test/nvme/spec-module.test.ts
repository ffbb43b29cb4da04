import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONNECT_OPTIONS, DISCOVERY_OPTIONS } from '../../src/cli/connect-options.js';
import { OPTION_NAMES, parseConnectOptions } from '../../src/engine/options.js';
import { naturalCompare } from '../../src/nvme/names.js';
import { CONNECT_OPTION_SPECS, parseSupportedOptions } from '../../src/nvme/options.js';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

/** The relative imports of every .ts file under `dir`, resolved to paths below src/. */
function importsUnder(dir: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  for (const name of fs.readdirSync(path.join(SRC, dir), { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue;
    const file = path.join(SRC, dir, name);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
      const target = path.relative(SRC, path.resolve(path.dirname(file), m[1] as string));
      out.push({ file: path.relative(SRC, file), target });
    }
  }
  return out;
}

describe('src/nvme, the spec module', () => {
  it('imports nothing of ours but errors and args', () => {
    const imports = importsUnder('nvme');
    expect(imports.length).toBeGreaterThan(0);
    expect(
      imports.filter(
        (i) => !i.target.startsWith('nvme/') && i.target !== 'errors.js' && i.target !== 'args.js',
      ),
    ).toEqual([]);
  });

  it('is what the kernel side reads: nothing under src/kernel imports the engine or the registry', () => {
    expect(
      importsUnder('kernel').filter(
        (i) => i.target.startsWith('engine/') || i.target.startsWith('registry/'),
      ),
    ).toEqual([]);
  });

  it('one table drives the option names, the connect flags and the discovery flags', () => {
    expect([...OPTION_NAMES].sort()).toEqual(CONNECT_OPTION_SPECS.map((s) => s.name).sort());
    expect(OPTION_NAMES[0]).toBe('nqn');
    const flagged = CONNECT_OPTION_SPECS.filter((s) => s.flags !== undefined);
    expect(CONNECT_OPTIONS.map((o) => o.key)).toEqual(flagged.map((s) => s.name));
    expect(DISCOVERY_OPTIONS.map((o) => o.key)).toEqual(
      flagged.filter((s) => s.cli === 'all').map((s) => s.name),
    );
    // discovery is addressed by the discovery NQN, never by -n
    expect(DISCOVERY_OPTIONS.map((o) => o.key)).not.toContain('nqn');
    // every option of the table is one the parser knows
    for (const s of CONNECT_OPTION_SPECS) {
      expect(() =>
        parseConnectOptions({ [s.name]: null, transport: 'loop', nqn: 'nqn.2024-01.io.example:x' }),
      ).not.toThrow();
    }
  });

  it('the supported-option listing: reply fields and junk are no options, each name once', () => {
    expect(parseSupportedOptions('instance=-1,cntlid=-1,transport=%s,nqn=%s,tls,tls,Bad,x-y=%d,\n')).toEqual([
      'transport',
      'nqn',
      'tls',
    ]);
  });

  it('one natural order for controllers, namespaces and subsystems', () => {
    expect(
      ['nvme-subsys10', 'nvme10', 'nvme2', 'nvme1n10', 'nvme1n2', 'nvme-subsys2'].sort(naturalCompare),
    ).toEqual(['nvme1n2', 'nvme1n10', 'nvme2', 'nvme10', 'nvme-subsys2', 'nvme-subsys10']);
  });
});
