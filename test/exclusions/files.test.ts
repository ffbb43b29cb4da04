import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exclusionPaths,
  findExclusion,
  LINE_MAX,
  parseExclusionFile,
  readExclusions,
} from '../../src/exclusions/files.js';

const dirs: string[] = [];
function etcDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-excl-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('parseExclusionFile', () => {
  // Each case: the file text, the entries it yields (as text), the problems (line: message pattern).
  it.each<[string, string, string[], [number, RegExp][]]>([
    ['an empty file', '', [], []],
    [
      'entries inside [exclusions], comments and blank lines',
      '# NVMe-oF exclusion list\n\n[exclusions]\nexclusion = nqn=nqn.x:a\n   # indented comment\nexclusion=transport=tcp;traddr=10.0.0.1\n',
      ['nqn=nqn.x:a', 'transport=tcp;traddr=10.0.0.1'],
      [],
    ],
    ['CRLF line ends', '[exclusions]\r\nexclusion = nqn=a\r\n', ['nqn=a'], []],
    ['a spaced section name', '[ exclusions ]\nexclusion = nqn=a\n', ['nqn=a'], []],
    [
      'an entry before any section',
      'exclusion = nqn=a\n[exclusions]\nexclusion = nqn=b\n',
      ['nqn=b'],
      [[1, /outside the \[exclusions\] section/]],
    ],
    [
      'other sections are reserved and skipped silently',
      '[future]\nexclusion = nqn=a\nkey = value\n[exclusions]\nexclusion = nqn=b\n',
      ['nqn=b'],
      [[2, /outside the \[exclusions\] section/]],
    ],
    [
      'a malformed header closes the section',
      '[exclusions]\nexclusion = nqn=a\n[exclusions\nexclusion = nqn=b\n',
      ['nqn=a'],
      [
        [3, /malformed section header/],
        [4, /outside the \[exclusions\] section/],
      ],
    ],
    [
      'an invalid entry is reported and skipped, the rest stays',
      '[exclusions]\nexclusion = bogus=x\nexclusion = nqn=b\nexclusion =\n',
      ['nqn=b'],
      [
        [2, /invalid entry "bogus=x": unknown key "bogus".*excludes nothing/],
        [4, /invalid entry "": no field/],
      ],
    ],
    [
      'a misspelt key inside [exclusions] is reported',
      '[exclusions]\nexlusion = nqn=a\njunk line\n',
      [],
      [
        [2, /unknown key "exlusion"/],
        [3, /"junk line" is not "exclusion = \.\.\."/],
      ],
    ],
    [
      'a second [exclusions] header re-enters the section',
      '[exclusions]\n[other]\n[exclusions]\nexclusion = nqn=a\n',
      ['nqn=a'],
      [],
    ],
  ])('%s', (_name, text, entries, problems) => {
    const r = parseExclusionFile(text, 'exclusions.conf');
    expect(r.records.map((x) => x.text)).toEqual(entries);
    expect(r.problems.map((p) => p.line)).toEqual(problems.map(([l]) => l));
    r.problems.forEach((p, i) => {
      expect(p.file).toBe('exclusions.conf');
      expect(p.message).toMatch((problems[i] as [number, RegExp])[1]);
    });
  });

  it('records the line number and list of each entry', () => {
    const r = parseExclusionFile('[exclusions]\n\nexclusion = nqn=a\n', 'lab.conf', 'lab');
    expect(r.records).toEqual([
      { list: 'lab', file: 'lab.conf', line: 3, text: 'nqn=a', entry: { nqn: 'a' } },
    ]);
  });

  it('skips an over-long line', () => {
    const r = parseExclusionFile(`[exclusions]\nexclusion = nqn=${'a'.repeat(LINE_MAX)}\n`, 'f');
    expect(r.records).toEqual([]);
    expect(r.problems[0]?.message).toMatch(/longer than/);
  });
});

describe('readExclusions', () => {
  it('finds nothing when no file exists', async () => {
    expect(await readExclusions({ etc: etcDir() })).toEqual({ lists: [], records: [], problems: [] });
  });

  it('reads the default list then the drop-ins by name, and reports what it skipped', async () => {
    const etc = etcDir();
    const { defaultList, dropInDir } = exclusionPaths(etc);
    fs.mkdirSync(dropInDir, { recursive: true });
    fs.writeFileSync(defaultList, '[exclusions]\nexclusion = nqn=nqn.x:default\n');
    fs.writeFileSync(
      path.join(dropInDir, 'maintenance.conf'),
      '[exclusions]\nexclusion = transport=tcp;traddr=10.0.0.9\n',
    );
    fs.writeFileSync(
      path.join(dropInDir, 'lab.conf'),
      '[exclusions]\nexclusion = host-iface=eth3\nexclusion = nope\n',
    );
    fs.writeFileSync(path.join(dropInDir, 'notes.txt'), '[exclusions]\nexclusion = nqn=ignored\n');
    fs.writeFileSync(path.join(dropInDir, '.conf'), '[exclusions]\nexclusion = nqn=ignored\n');
    fs.mkdirSync(path.join(dropInDir, 'dir.conf'));

    const ex = await readExclusions({ etc });
    expect(ex.lists).toEqual([
      { list: null, file: defaultList },
      { list: 'lab', file: path.join(dropInDir, 'lab.conf') },
      { list: 'maintenance', file: path.join(dropInDir, 'maintenance.conf') },
    ]);
    expect(ex.records.map((r) => [r.list, r.text])).toEqual([
      [null, 'nqn=nqn.x:default'],
      ['lab', 'host-iface=eth3'],
      ['maintenance', 'transport=tcp;traddr=10.0.0.9'],
    ]);
    expect(ex.problems).toEqual([
      { file: path.join(dropInDir, 'dir.conf'), line: 0, message: 'not a regular file, skipped' },
      {
        file: path.join(dropInDir, 'lab.conf'),
        line: 3,
        message: expect.stringMatching(/invalid entry "nope"/),
      },
    ]);

    expect(findExclusion(ex, { transport: 'tcp', traddr: '10.0.0.9', nqn: 'nqn.x:other' })?.list).toBe(
      'maintenance',
    );
    expect(
      findExclusion(ex, { transport: 'tcp', traddr: '10.0.0.8', nqn: 'nqn.x:default' })?.list,
    ).toBeNull();
    expect(
      findExclusion(ex, { transport: 'tcp', traddr: '10.0.0.8', nqn: 'nqn.x:other', host_iface: 'eth3' })
        ?.list,
    ).toBe('lab');
    expect(
      findExclusion(ex, {
        transport: 'tcp',
        traddr: '10.0.0.8',
        nqn: 'nqn.x:other',
        host_iface: 'eth3',
        nbft: true,
      }),
    ).toBeNull();
    expect(findExclusion(ex, { transport: 'tcp', traddr: '10.0.0.8', nqn: 'nqn.x:other' })).toBeNull();
  });

  it('sees an edit on the next read', async () => {
    const etc = etcDir();
    const { defaultList } = exclusionPaths(etc);
    fs.mkdirSync(path.dirname(defaultList), { recursive: true });
    const target = { transport: 'tcp', traddr: '10.0.0.1', nqn: 'nqn.x:a' };
    expect(findExclusion(await readExclusions({ etc }), target)).toBeNull();
    fs.writeFileSync(defaultList, '[exclusions]\nexclusion = nqn=nqn.x:a\n');
    expect(findExclusion(await readExclusions({ etc }), target)?.line).toBe(2);
  });

  it('refuses a bad etc option', async () => {
    await expect(readExclusions({ etc: 5 as unknown as string })).rejects.toMatchObject({
      code: 'EINVALID_OPTION',
    });
    await expect(readExclusions({ etc: '' })).rejects.toMatchObject({ code: 'EINVALID_OPTION' });
  });
});
