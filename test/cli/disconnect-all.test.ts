import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nvmf, nvmfOnTerminal, type Run } from './helpers.js';
import { tableHost } from './sim-host.js';

/**
 * DESIGN §5's table, one column per mode. Rows are the controllers tableHost() builds:
 * nvme0 unowned, nvme1 owned by stas (= X), nvme2 by bob (= Y), nvme3 unreadable entry,
 * nvme9 PCIe.
 */
const ALL = ['nvme0', 'nvme1', 'nvme2', 'nvme3', 'nvme9'];
const MODES = {
  default: { args: [], goes: ['nvme0'] },
  '--owner stas': { args: ['--owner', 'stas'], goes: ['nvme1'] },
  '--force': { args: ['--force'], goes: ['nvme0', 'nvme1', 'nvme2', 'nvme3'] },
} as const;
type Mode = keyof typeof MODES;

const TABLE: Record<string, Record<Mode, 'disconnect' | 'skip'>> = {
  // owner of the controller:  default        --owner X      --force
  'nvme0 (none)': { default: 'disconnect', '--owner stas': 'skip', '--force': 'disconnect' },
  'nvme1 (X)': { default: 'skip', '--owner stas': 'disconnect', '--force': 'disconnect' },
  'nvme2 (Y)': { default: 'skip', '--owner stas': 'skip', '--force': 'disconnect' },
  'nvme3 (unreadable)': { default: 'skip', '--owner stas': 'skip', '--force': 'disconnect' },
  'nvme9 (PCIe)': { default: 'skip', '--owner stas': 'skip', '--force': 'skip' },
};

interface Plan {
  plan: { device: string; transport: string; owner: string | null; action: string; reason: string }[];
  results?: ({ device: string; ok: true } | { device: string; ok: false; error: string })[];
}

const remainingAfter = (mode: Mode): string[] =>
  ALL.filter((d) => !(MODES[mode].goes as readonly string[]).includes(d));

/** How a run is confirmed, and whether it then proceeds. */
const FLAG_COMBOS: {
  name: string;
  extra: string[];
  tty?: string;
  proceeds: boolean;
  code: number;
  shows?: string;
}[] = [
  { name: '--dry-run', extra: ['--dry-run'], proceeds: false, code: 0 },
  { name: '--dry-run --yes', extra: ['--dry-run', '--yes'], proceeds: false, code: 0 },
  { name: '--yes', extra: ['--yes'], proceeds: true, code: 0 },
  {
    name: 'no terminal, no --yes',
    extra: [],
    proceeds: false,
    code: 1,
    shows: 'refusing to ask for confirmation without a terminal; nothing was changed. Re-run with --yes',
  },
  {
    name: 'terminal, typed yes',
    extra: [],
    tty: 'yes\n',
    proceeds: true,
    code: 0,
    shows: "Type 'yes' to continue:",
  },
  {
    name: 'terminal, typed YES',
    extra: [],
    tty: 'YES\n',
    proceeds: false,
    code: 1,
    shows: 'aborted: confirmation not given',
  },
  {
    name: 'terminal, typed y',
    extra: [],
    tty: 'y\n',
    proceeds: false,
    code: 1,
    shows: 'nothing was disconnected',
  },
  {
    name: 'terminal, empty line',
    extra: [],
    tty: '\n',
    proceeds: false,
    code: 1,
    shows: 'nothing was disconnected',
  },
  { name: 'terminal, EOF', extra: [], tty: '', proceeds: false, code: 1, shows: 'nothing was disconnected' },
  { name: 'terminal, --yes', extra: ['--yes'], tty: '', proceeds: true, code: 0 },
  { name: 'terminal, --dry-run', extra: ['--dry-run'], tty: '', proceeds: false, code: 0 },
];

function run(env: Record<string, string>, args: string[], tty: string | undefined): Run {
  return tty === undefined ? nvmf(env, args) : nvmfOnTerminal(env, args, tty);
}

describe('disconnect-all: the decision table', () => {
  for (const mode of Object.keys(MODES) as Mode[]) {
    it(`plan of ${mode} matches DESIGN §5 (JSON, dry run)`, async () => {
      const host = await tableHost();
      const r = nvmf(host.env, ['disconnect-all', ...MODES[mode].args, '--dry-run', '-o', 'json']);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as Plan;
      expect(out.results).toBeUndefined();
      const got = Object.fromEntries(out.plan.map((p) => [p.device, p.action]));
      for (const [row, actions] of Object.entries(TABLE)) {
        expect(got[row.split(' ')[0] as string], `${row} under ${mode}`).toBe(actions[mode]);
      }
      expect(out.plan.find((p) => p.device === 'nvme1')).toMatchObject({ transport: 'tcp', owner: 'stas' });
      expect(out.plan.find((p) => p.device === 'nvme0')).toMatchObject({ owner: null });
      expect(out.plan.find((p) => p.device === 'nvme9')?.reason).toContain('never');
      expect(out.plan.find((p) => p.device === 'nvme3')?.reason).toContain('unreadable');
      expect(await host.controllers()).toEqual(ALL);
    });
  }
});

describe('disconnect-all: every mode x every confirmation', () => {
  for (const mode of Object.keys(MODES) as Mode[]) {
    for (const combo of FLAG_COMBOS) {
      it(`${mode}, ${combo.name}: exit ${combo.code}, ${combo.proceeds ? 'disconnects' : 'touches nothing'}`, async () => {
        const host = await tableHost();
        const r = run(host.env, ['disconnect-all', ...MODES[mode].args, ...combo.extra], combo.tty);
        expect(r.code).toBe(combo.code);
        const screen = combo.tty === undefined ? r.stdout + r.messages : r.stdout;
        // the plan is always shown: what goes, what stays and why
        expect(screen).toMatch(
          /nvme9\s+pcie\s+-\s+skip\s+pcie controller, not fabrics: never\s+disconnected/,
        );
        if (combo.shows) expect(screen).toContain(combo.shows);
        if (combo.tty !== undefined && combo.extra.length > 0) expect(screen).not.toContain("Type 'yes'");
        expect(await host.controllers()).toEqual(combo.proceeds ? remainingAfter(mode) : ALL);
        if (combo.proceeds) {
          for (const d of MODES[mode].goes) expect(screen).toContain(`${d}: disconnected`);
        }
      });
    }
  }
});

describe('disconnect-all: the question is asked on the terminal, whatever stdin and stderr are', () => {
  it.each([
    ["typed ' yes'", ' yes\n', '', false],
    ["typed 'yes '", 'yes \n', '', false],
    ['stderr to /dev/null, typed yes', 'yes\n', '2>/dev/null', true],
    ['stdin from /dev/null, typed yes', 'yes\n', '</dev/null', true],
    ['stdin and stderr redirected, typed no', 'no\n', '</dev/null 2>/dev/null', false],
  ])('%s', async (_name, typed, redirect, proceeds) => {
    const host = await tableHost();
    const r = nvmfOnTerminal(host.env, ['disconnect-all'], typed, redirect);
    expect(r.stdout).toContain("Disconnect 1 controller (nvme0)? Type 'yes' to continue:");
    expect(r.code).toBe(proceeds ? 0 : 1);
    expect(await host.controllers()).toEqual(proceeds ? remainingAfter('default') : ALL);
  });

  it('-o json: the plan is shown on the terminal with the question, stdout stays one JSON document', async () => {
    const host = await tableHost();
    const out = path.join(path.dirname(host.dir), 'out.json');
    const r = nvmfOnTerminal(host.env, ['disconnect-all', '-o', 'json'], 'yes\n', `>'${out}' 2>/dev/null`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nvme0\s+tcp\s+-\s+disconnect/);
    expect(r.stdout).toContain("Type 'yes' to continue:");
    expect((JSON.parse(fs.readFileSync(out, 'utf8')) as Plan).results).toEqual([
      { device: 'nvme0', ok: true },
    ]);
  });
});

describe('disconnect-all: JSON with results', () => {
  it('--yes -o json prints plan and one result per disconnect, audits each decision', async () => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', '--force', '--yes', '-o', 'json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Plan;
    expect(out.plan).toHaveLength(5);
    expect(out.results).toEqual(['nvme0', 'nvme1', 'nvme2', 'nvme3'].map((device) => ({ device, ok: true })));
    const actions = r.audit.map((a) => `${a['NVMF_ACTION']}:${a['NVMF_DEVICE']}`);
    expect(actions).toContain('disconnect-all-disconnect:nvme1');
    expect(actions).toContain('disconnect-all-skip:nvme9');
  });
});

describe('disconnect-all: flags and filters', () => {
  it.each([
    [['--owner', 'stas', '--force']],
    [['--owner', 'stas', '--force', '--yes']],
    [['--owner', 'stas', '--force', '--dry-run']],
    [['--owner', 'stas', '--force', '-o', 'json']],
  ])('%j is a usage error (exit 2) and touches nothing', async (args) => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--owner and --force are mutually exclusive');
    expect(r.stdout).toBe('');
    expect(await host.controllers()).toEqual(ALL);
  });

  it('-t rdma selects nothing on a TCP host: exit 0, nothing to do', async () => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', '--force', '-t', 'rdma']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nvme0\s+tcp\s+-\s+skip\s+transport tcp not selected \(rdma\)/);
    expect(r.messages).toContain('nothing to disconnect');
    expect(await host.controllers()).toEqual(ALL);
  });

  it('-t tcp keeps the default policy', async () => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', '-t', 'tcp', '--yes']);
    expect(r.code).toBe(0);
    expect(await host.controllers()).toEqual(remainingAfter('default'));
  });

  it.each([
    [['-t', 'pcie'], '-t/--transport "pcie" is not a fabrics transport; use one of tcp, rdma, fc, loop'],
    [['--owner', 'a/b'], 'invalid owner "a/b"'],
    [['--owner'], "option '--owner <name>' argument missing"],
  ])('%j: exit 2 naming the bad value', async (args, message) => {
    const host = await tableHost();
    const r = nvmf(host.env, ['disconnect-all', '--yes', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await host.controllers()).toEqual(ALL);
  });
});

describe('disconnect-all: registry plugin disabled', () => {
  for (const how of [{ NVMF_PLUGINS: 'none' }, { NVMF_PLUGINS: '' }, 'config file'] as const) {
    const label = typeof how === 'string' ? how : JSON.stringify(how);
    it(`${label}: refuses without --force (exit 1), touches nothing`, async () => {
      const host = await tableHost(typeof how === 'string' ? {} : how);
      if (how === 'config file') {
        const etc = path.join(host.env['NVMF_ETC_ROOT']!, 'nvme');
        fs.mkdirSync(etc, { recursive: true });
        fs.writeFileSync(path.join(etc, 'nvmf.json'), '{"plugins":{"registry":{"enabled":false}}}');
      }
      for (const args of [['--yes'], ['--owner', 'stas', '--yes'], ['--dry-run']]) {
        const r = nvmf(host.env, ['disconnect-all', ...args]);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toContain('disconnect-all refuses to run: the registry plugin is disabled');
      }
      expect(await host.controllers()).toEqual(ALL);
      // the registry commands are gone with the plugin
      expect(nvmf(host.env, ['registry', 'list']).code).toBe(2);
      const forced = nvmf(host.env, ['disconnect-all', '--force', '--yes', '-o', 'json']);
      expect(forced.code).toBe(0);
      expect((JSON.parse(forced.stdout) as Plan).results?.map((x) => x.device)).toEqual([
        'nvme0',
        'nvme1',
        'nvme2',
        'nvme3',
      ]);
      expect(await host.controllers()).toEqual(['nvme9']);
    });
  }
});
