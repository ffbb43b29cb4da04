import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NvmfError } from '../errors.js';
import type { CliContext } from './context.js';

/**
 * The tour of `nvmf demo`. Every step runs this package's own `nvmf` as a child process with
 * NVMF_KERNEL=sim:DIR, so each output shown is exactly what that command prints on a host
 * like the one built here; the tour itself only narrates and stops at the first failure.
 */

const SUBSYS = (name: string): string => `nqn.2024-01.io.example:${name}`;
const PORT_A = { traddr: '192.0.2.10', trsvcid: '4420' };
const PORT_B = { traddr: '192.0.2.11', trsvcid: '4420' };

/** The targets of the demo host: one subsystem per story, the database on two ports. */
const TARGETS = {
  subsystems: [
    { nqn: SUBSYS('logs'), transport: 'tcp', ...PORT_A, namespaces: 1 },
    {
      nqn: SUBSYS('db'),
      namespaces: 1,
      ports: [
        { transport: 'tcp', ...PORT_A },
        { transport: 'tcp', ...PORT_B },
      ],
    },
    { nqn: SUBSYS('scratch'), transport: 'tcp', ...PORT_B, namespaces: 1 },
    { nqn: SUBSYS('home'), transport: 'tcp', ...PORT_B, namespaces: 1 },
  ],
};

/** The package's own CLI entry: the tour runs the same program the user runs. */
function cliEntry(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = path.join(dir, 'build', 'cli', 'nvmf.cjs');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(bin)) return bin;
    const up = path.dirname(dir);
    if (up === dir) throw new NvmfError('EIO', 'cannot find the built nvmf CLI (run npm run build)');
    dir = up;
  }
}

/** The environment of every step: this host only, audit records in its own file. */
function demoEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NVMF_')) env[k] = v;
  return {
    ...env,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(dir, 'etc'),
    NVMF_AUDIT_SINK: 'file',
    NVMF_AUDIT_FILE: path.join(dir, 'audit.jsonl'),
    NVMF_PLUGINS: 'registry',
  };
}

/** A command as a shell shows it, continued with backslashes to stay within 80 columns. */
function shellLines(words: readonly string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && line.length + 1 + w.length > 77) {
      lines.push(`${line} \\`);
      line = `   ${w}`;
    } else {
      line = line === '' ? w : `${line} ${w}`;
    }
  }
  return [...lines, line].join('\n');
}

export interface DemoOptions {
  keep: boolean;
}

export async function runDemo(ctx: CliContext, opts: DemoOptions): Promise<void> {
  if (ctx.format() === 'json') {
    throw new NvmfError('EUSAGE', 'nvmf demo prints a narrated tour; it has no -o json output');
  }
  const out = (s: string): void => ctx.stdout.write(s);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-demo-'));
  const dir = path.join(base, 'host');
  const cli = cliEntry();
  const env = demoEnv(dir);

  /** Run one step: show it as a shell line, print its output, stop the tour if it fails. */
  const step = (args: string[], opts: { quiet?: boolean } = {}): string => {
    const shown = args.map((a) => (a === dir ? '"$HOST"' : a)).join(' ');
    if (opts.quiet !== true)
      out(`\n${shellLines(['$', 'nvmf', ...args.map((a) => (a === dir ? '"$HOST"' : a))])}\n`);
    const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new NvmfError(
        'EIO',
        `the demo's step "nvmf ${shown}" failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`,
      );
    }
    if (opts.quiet !== true) out(r.stdout);
    return r.stdout;
  };
  const say = (text: string): void => out(`\n# ${text.replace(/\n/g, '\n# ')}\n`);
  const connect = (subsys: string, port: { traddr: string; trsvcid: string }, owner?: string): string[] => {
    const args = ['connect', '-t', 'tcp', '-a', port.traddr, '-s', port.trsvcid, '-n', SUBSYS(subsys)];
    if (owner !== undefined) args.push('--owner', owner);
    const text = step(args);
    return /namespaces ([^,\n]+)/.exec(text)?.[1]?.split(' ') ?? [];
  };

  try {
    const targets = path.join(base, 'targets.json');
    fs.writeFileSync(targets, JSON.stringify(TARGETS, null, 2) + '\n');
    say(
      `A simulated NVMe-oF host in a temporary directory:\n  HOST=${dir}\n` +
        'Every command below runs with NVMF_KERNEL=sim:$HOST: nothing on this\n' +
        'machine is touched.',
    );
    step(['sim', 'init', dir, '--targets', targets], { quiet: true });

    say('Three orchestrators connect their controllers and record themselves as owners.');
    connect('logs', PORT_A, 'nvme-stas');
    const [db] = connect('db', PORT_A, 'k8s-csi');
    connect('db', PORT_B, 'k8s-csi');
    say('A person at a shell connects two volumes without an owner.');
    connect('scratch', PORT_B);
    const [home] = connect('home', PORT_B);
    if (db === undefined || home === undefined) {
      throw new NvmfError('EIO', 'the demo: a connect reported no namespace');
    }

    say(
      `Both use their volumes: ${home} is mounted at /home, and the database\n` +
        `(${db}, one namespace reached over two paths) at /var/lib/db.`,
    );
    step(['sim', 'mount', dir, home, '/home']);
    step(['sim', 'mount', dir, db, '/var/lib/db']);

    say('Who owns what:');
    step(['list', '-v']);

    say(
      'What a plain disconnect-all would do: owned controllers stay, and so does\n' +
        'a controller whose filesystem is mounted, owned or not.',
    );
    step(['disconnect-all', '--dry-run']);

    say('Even --force keeps what is in use: one path of the database may go, the\n' + 'last one may not.');
    step(['disconnect-all', '--force', '--dry-run']);

    say('Run the plain disconnect-all (--yes instead of typing yes at the prompt).');
    step(['disconnect-all', '--yes']);
    step(['sim', 'udev-settle', dir], { quiet: true });
    step(['list', '-v']);

    say('Every decision is in the audit trail (the journal on a real host):');
    step(['registry', 'log']);
  } finally {
    if (opts.keep) {
      out(`\n# The host is kept in ${dir}; try:\n#   NVMF_KERNEL=sim:${dir} nvmf list -v\n`);
    } else {
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
  if (!opts.keep) out('\n# Done; the simulated host is removed.\n');
}
