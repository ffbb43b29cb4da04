import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nvmf, REPO, tempHost } from './helpers.js';

/**
 * The man pages against the built program: every long option a command's --help lists is
 * documented on that command's page, and every command has a page the main page links.
 */
const MAN = path.join(REPO, 'docs', 'man');
const page = (name: string): string => fs.readFileSync(path.join(MAN, `${name}.md`), 'utf8');

const COMMANDS: [string[], string][] = [
  [['connect'], 'nvmf-connect'],
  [['discover'], 'nvmf-discover'],
  [['connect-all'], 'nvmf-connect-all'],
  [['disconnect'], 'nvmf-disconnect'],
  [['disconnect-all'], 'nvmf-disconnect-all'],
  [['list'], 'nvmf-list'],
  [['monitor'], 'nvmf-monitor'],
  [['nbft', 'show'], 'nvmf-nbft'],
  ...['list', 'add', 'remove'].map((s): [string[], string] => [['exclusion', s], 'nvmf-exclusion']),
  ...['list', 'retrieve', 'update', 'delete', 'claim', 'gc', 'watch', 'log', 'export'].map(
    (s): [string[], string] => [['registry', s], 'nvmf-registry'],
  ),
  ...[
    'init',
    'udev-settle',
    'fail',
    'expire',
    'target-down',
    'target-up',
    'mount',
    'umount',
    'swapon',
    'hold',
    'nbft',
  ].map((s): [string[], string] => [['sim', s], 'nvmf-sim']),
  ...['install', 'uninstall', 'status'].map((s): [string[], string] => [['udev', s], 'nvmf-udev']),
  ...['install', 'uninstall', 'status'].map((s): [string[], string] => [['systemd', s], 'nvmf-systemd']),
];

/** Long option names in commander's help, without the ones every command has. */
function longOptions(help: string): string[] {
  const options = help.split(/\n(?=\S)/).find((b) => b.startsWith('Options:')) ?? '';
  return [...options.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)]
    .map((m) => m[1] as string)
    .filter((o) => o !== '--help');
}

describe('man pages document what --help shows', () => {
  const host = tempHost();
  it.each(COMMANDS)('%j on %s', (args, name) => {
    const r = nvmf(host.env, [...args, '--help']);
    expect(r.code).toBe(0);
    const options = longOptions(r.stdout);
    const text = page(name);
    expect(text).toContain(`nvmf ${args.join(' ')}`);
    for (const o of options) expect(text, `${o} of nvmf ${args.join(' ')}`).toContain(o);
  });

  it('global options and every command are on the main page', () => {
    const r = nvmf(host.env, ['--help']);
    const main = page('nvmf');
    for (const o of longOptions(r.stdout)) expect(main, o).toContain(o);
    const block = /\nCommands:\n([\s\S]*?)\n\n/.exec(r.stdout)?.[1] ?? '';
    const commands = [...block.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
      .map((m) => m[1] as string)
      .filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(8);
    for (const c of commands) expect(main, c).toMatch(new RegExp(`\`${c}[\` ]`));
  });
});
