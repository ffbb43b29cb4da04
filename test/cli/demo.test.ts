import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nvmf, REPO } from './helpers.js';

/** The README's main command is `npm ci && npx nvmf demo`: the tour must run and say the truth. */
describe('nvmf demo', () => {
  it('runs the tour on a temporary simulated host and removes it', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-demo-test-'));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmp, TMPDIR: tmp };
    const r = nvmf(env, ['demo']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    // every step is a real command shown as typed, with its real output
    expect(out).toMatch(/\$ nvmf connect .*\n? *--owner nvme-stas\ndevice: nvme0, owner nvme-stas/);
    expect(out).toContain('$ nvmf disconnect-all --dry-run');
    // the plain plan: owned controllers stay, the mounted unowned one stays, the idle one goes
    const plain = section(out, '$ nvmf disconnect-all --dry-run\n');
    expect(plain).toMatch(/nvme0 .*skip .*owned by nvme-stas/);
    expect(plain).toMatch(/nvme3 .*disconnect .*unowned/);
    expect(plain).toMatch(/nvme4 .*skip .*in use: nvme4n1 mounted at \/home/);
    // --force still keeps the last path of the mounted database
    const force = section(out, '$ nvmf disconnect-all --force --dry-run\n');
    expect(force).toMatch(/nvme1 .*disconnect/);
    expect(force).toMatch(/nvme2 .*skip .*in use: .* mounted at \/var\/lib\/db/);
    // the run removed nvme3 only, and the audit trail says so
    expect(section(out, '$ nvmf disconnect-all --yes\n')).toMatch(/nvme3/);
    expect(section(out, '$ nvmf registry log\n')).toMatch(/disconnect.*nvme3|nvme3.*disconnect/);
    // nothing left behind
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('nvmf-demo-'))).toEqual([]);
    // 80 columns, but for the line that names the temporary directory (as long as TMPDIR)
    for (const line of out.split('\n').filter((l) => !l.includes(tmp)))
      expect(line.length, line).toBeLessThanOrEqual(80);
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it('--keep keeps the host and says where', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-demo-test-'));
    const r = nvmf({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmp, TMPDIR: tmp }, [
      'demo',
      '--keep',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const kept = fs.readdirSync(tmp).filter((f) => f.startsWith('nvmf-demo-'));
    expect(kept).toHaveLength(1);
    expect(r.stdout).toContain(path.join(tmp, kept[0]!, 'host'));
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it('the README keeps exactly two set-up commands: the demo and the tests', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const setup = readme.slice(
      readme.indexOf('## Set up'),
      readme.indexOf('\n## ', readme.indexOf('## Set up') + 1),
    );
    const blocks = [...setup.matchAll(/```sh\n([^`]*)```/g)].map((m) => m[1]!.trim());
    expect(blocks).toEqual(['npm ci && npx nvmf demo', 'npm ci && npm test && npm run test:kernel']);
  });
});

/** The output of the step that starts with `head`, up to the next step. */
function section(out: string, head: string): string {
  const i = out.indexOf(head);
  if (i < 0) throw new Error(`no step ${JSON.stringify(head)} in:\n${out}`);
  const next = out.indexOf('\n$ nvmf', i + head.length);
  return out.slice(i + head.length, next < 0 ? undefined : next);
}
