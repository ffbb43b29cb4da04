import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildFromDir,
  inline,
  MAN_DIR,
  MAN_PAGE,
  packageVersion,
  parseMarkdown,
  renderManPage,
} from '../../scripts/man.js';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('docs/man/nvmf.1', () => {
  it('is what npm run man generates from the markdown pages (committed output up to date)', () => {
    expect(fs.readFileSync(MAN_PAGE, 'utf8')).toBe(buildFromDir(MAN_DIR, packageVersion()));
  });

  it.runIf(has('groff'))('groff formats it with every warning enabled and none raised', () => {
    const r = spawnSync('groff', ['-man', '-t', '-Tutf8', '-ww', '-z', MAN_PAGE], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it.runIf(has('man'))('man -l renders every command section', () => {
    const r = spawnSync('man', ['-l', MAN_PAGE], {
      encoding: 'utf8',
      env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const sections = r.stdout.split('\n').filter((l) => /^[A-Z]/.test(l));
    for (const s of [
      'NAME',
      'SYNOPSIS',
      'EXIT STATUS',
      'NVMF CONNECT',
      'NVMF DISCONNECT-ALL',
      'NVMF REGISTRY',
      'NVMF SIM',
      'SEE ALSO',
    ]) {
      expect(sections, s).toContain(s);
    }
    expect(r.stdout).toContain('nvmf disconnect-all --owner stas --yes');
  });
});

describe('markdown to roff', () => {
  it('escapes what roff would misread: backslash, minus, a leading dot, non-ASCII', () => {
    expect(inline('a\\b -x `--owner=` — ok')).toBe('a\\eb \\-x \\fB\\-\\-owner=\\fR \\[u2014] ok');
    expect(inline(".not a request\n'nor this")).toBe("\\&.not a request\n\\&'nor this");
    expect(inline('`{"a":1,"b":2}`')).toBe('\\fB{"a":1,\\:"b":2}\\fR');
  });

  it('links: sibling pages become sections, files are named from the repository root', () => {
    expect(inline('[nvmf-connect(1)](nvmf-connect.md)')).toBe('NVMF CONNECT below');
    expect(inline('[../udev.md](../udev.md)')).toBe('docs/udev.md');
    expect(inline('[REGISTRY.md](../../REGISTRY.md)')).toBe('REGISTRY.md');
    expect(inline('[guide](../operations.md#json-output)')).toBe('guide (docs/operations.md)');
  });

  it('blocks: headings, list items with continuation lines, indented code, tables with \\|', () => {
    const page = parseMarkdown(
      'nvmf-x',
      '# nvmf-x(1)\n\n## OPTIONS\n- `-a` one\n  two\n- b\n\n    code -x\n    .dot\n\n| k | v |\n|---|---|\n| `a\\|b` | c |\n',
    );
    expect(page.blocks).toEqual([
      { kind: 'heading', level: 1, text: 'nvmf-x(1)' },
      { kind: 'heading', level: 2, text: 'OPTIONS' },
      { kind: 'list', items: ['`-a` one two', 'b'] },
      { kind: 'code', lines: ['code -x', '.dot'] },
      {
        kind: 'table',
        rows: [
          ['k', 'v'],
          ['`a|b`', 'c'],
        ],
      },
    ]);
    const main = parseMarkdown('nvmf', '# nvmf(1)\n\n## NAME\nnvmf - x\n\n## SEE ALSO\nnvme(1)\n');
    const roff = renderManPage(main, [page], '9.9.9');
    expect(roff).toContain('.TH NVMF 1 "" "nvmf-registry 9.9.9" "User Commands"');
    // command pages go before SEE ALSO, their sections become subsections
    expect(roff.indexOf('.SH "NVMF X"')).toBeLessThan(roff.indexOf('.SH "SEE ALSO"'));
    expect(roff).toContain('.SS "OPTIONS"\n.IP \\(bu 2\n\\fB\\-a\\fR one two');
    expect(roff).toContain('.nf\ncode \\-x\n\\&.dot\n.fi');
    expect(roff).toContain('.SH "NAME"\nnvmf \\- x\n');
  });
});
