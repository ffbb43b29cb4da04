import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { coreCommands } from '../../src/cli/commands/index.js';
import { createContext } from '../../src/cli/create-context.js';
import { loadPluginHost } from '../../src/cli/plugin-host.js';
import { buildProgram } from '../../src/cli/program.js';
import { SHIPPED_PLUGINS } from '../../plugins/index.js';
import { nvmf, nvmfOnTerminal, tempHost } from './helpers.js';
import { type SimHost, tableHost } from './sim-host.js';

const WIDTH = 80;
const columns = (line: string): number => [...line].length;
const tooWide = (text: string): string[] => text.split('\n').filter((l) => columns(l) > WIDTH);

/** Every command of the program, subcommands included, as the words that name it. */
function everyCommand(cmd: Command, prefix: string[] = []): [string[], Command][] {
  return cmd.commands.flatMap((c) => {
    const words = [...prefix, c.name()];
    return [[words, c] as [string[], Command], ...everyCommand(c, words)];
  });
}

describe('80 columns: help', async () => {
  const out: string[] = [];
  const unused = (): never => {
    throw new Error('help needs no services');
  };
  const plugins = await loadPluginHost({}, SHIPPED_PLUGINS);
  let program: Command | undefined;
  const ctx = createContext(
    {
      env: {},
      stdout: { write: (s) => out.push(s) },
      stderr: { write: (s) => out.push(s) },
      isTTY: false,
      ask: unused,
    },
    { kernel: unused, roots: unused, auditor: unused },
    plugins,
    () => program as Command,
  );
  program = buildProgram(ctx, await Promise.all(coreCommands.map((d) => d.load())), '0.0.0');
  const all = everyCommand(program);

  it('walks every command and subcommand', () => {
    const names = all.map(([w]) => w.join(' '));
    for (const n of [
      'connect',
      'disconnect-all',
      'registry list',
      'registry watch',
      'sim init',
      'udev install',
      'help',
    ])
      expect(names).toContain(n);
  });

  it.each([[[] as string[], undefined as Command | undefined], ...all])('%j --help fits', (words, cmd) => {
    out.length = 0;
    (cmd ?? program!).outputHelp();
    const text = out.join('');
    expect(text.length, words.join(' ')).toBeGreaterThan(0);
    expect(tooWide(text)).toEqual([]);
  });

  it('nvmf --help shows the disconnect-all table it mentions', () => {
    out.length = 0;
    program!.outputHelp();
    const text = out.join('');
    expect(text).toContain('see the table below');
    expect(text).toMatch(/owner +default +--owner X +--force\n +none \(-\) +disconnect +skip +disconnect/);
  });
});

describe('80 columns: the tables of a sim host', () => {
  let host: SimHost;
  beforeAll(async () => {
    host = await tableHost({ NVMF_AUDIT_SINK: 'off' });
    const reg = path.join(host.dir, 'run', 'nvme', 'registry');
    // long values: a private attribute, a forged row attempt, a long owner
    fs.writeFileSync(path.join(reg, 'nvme1', 'note'), `${'x'.repeat(120)}\n`);
    fs.writeFileSync(path.join(reg, 'nvme2', 'forge'), 'v\nnvme7   forged\n');
    fs.mkdirSync(path.join(reg, 'nvme0'));
    fs.writeFileSync(path.join(reg, 'nvme0', 'owner'), `${'o'.repeat(64)}\n`);
  });

  it.each([
    [['list']],
    [['list', '-v']],
    [['registry', 'list']],
    [['registry', 'list', '-v', '--all']],
    [['disconnect-all', '--dry-run']],
    [['disconnect-all', '--dry-run', '--force']],
    [['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', '8009']],
  ])('%j', (args) => {
    const r = nvmf(host.env, args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').length).toBeGreaterThan(3);
    expect(tooWide(r.stdout)).toEqual([]);
    // no value forged a row: every row starts with a device (or is a wrapped continuation)
    for (const line of r.stdout.split('\n').slice(2)) {
      if (line !== '') expect(line).toMatch(/^(nvme\d+|nvm|discovery|referral|cur) |^ {8}/);
    }
  });

  it('escapes what would forge a row; -vv and JSON show values whole', () => {
    const text = nvmf(host.env, ['registry', 'list']).stdout;
    expect(text).toContain('forge=v\\nnvme7   forged');
    expect(text).not.toMatch(/^nvme7/m);
    const wide = nvmf(host.env, ['registry', 'list', '-vv']).stdout;
    expect(wide).toContain(`note=${'x'.repeat(120)}`);
    const json = JSON.parse(nvmf(host.env, ['registry', 'list', '-o', 'json']).stdout) as {
      entries: { device: string; attrs: Record<string, string> }[];
    };
    expect(json.entries.find((e) => e.device === 'nvme2')?.attrs['forge']).toBe('v\nnvme7   forged');
    const list = nvmf(host.env, ['list', '-vv']).stdout;
    expect(list).toContain('traddr=127.0.0.1,trsvcid=4420');
  });

  it('nvmf help CMD is CMD --help', () => {
    const a = nvmf(host.env, ['help', 'registry', 'list']);
    const b = nvmf(host.env, ['registry', 'list', '--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(nvmf(host.env, ['help', 'nosuch']).code).toBe(2);
  });
});

describe('80 columns: messages on a terminal', () => {
  it('an error message on the operator terminal is folded; piped it stays one line', () => {
    const h = tempHost();
    const long = `nqn.2014-08.org.example:${'x'.repeat(120)}`;
    const args = ['registry', 'claim', 'nvme7', '--owner', 'stas', '--expect', long];
    const onTerminal = nvmfOnTerminal(h.env, args, '');
    expect(onTerminal.stdout).toContain('nvmf: ');
    for (const line of onTerminal.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    const piped = nvmf(h.env, args);
    expect(piped.messages.split('\n').some((l) => l.length > 80)).toBe(true);
  });
});
