import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it: `npm pack`, installed into a fresh project without network
 * (its dependencies copied from ours, which npm then accepts offline), and the example the
 * README and REGISTRY.md show (examples/orchestrator.ts) type-checked against the installed
 * types and run on a simulated host. Needs the build (npm test builds first).
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const NQN = 'nqn.2014-08.org.example:vol1';
let tmp: string;
let project: string;

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Our copy of `name` and, transitively, of what it depends on (optional ones we have too), into `dest`'s node_modules. */
function copyDependency(name: string, dest: string, seen: Set<string>): void {
  if (seen.has(name)) return;
  seen.add(name);
  const link = path.join(ROOT, 'node_modules', name);
  if (!fs.existsSync(link)) return; // an optional dependency of another platform
  const from = fs.realpathSync(link);
  fs.cpSync(from, path.join(dest, 'node_modules', name), { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  // koffi's native module is an optional dependency per platform
  for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }))
    copyDependency(d, dest, seen);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-pack-'));
  project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  // --ignore-scripts: pack what the build made, without building again
  const packed = run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', tmp], {
    cwd: ROOT,
  });
  const tarball = path.join(tmp, packed.stdout.trim().split('\n').pop() as string);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'orchestrator', version: '1.0.0', private: true, type: 'module' }),
  );
  const ours = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const seen = new Set<string>();
  for (const d of Object.keys(ours.dependencies)) copyDependency(d, project, seen);
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
    cwd: project,
  });
}, 600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('installs with the entries package.json names, and no test or source tree', () => {
    const dir = path.join(project, 'node_modules', 'nvmf-registry');
    for (const f of [
      'build/src/index.js',
      'build/src/index.d.ts',
      'build/src/sim.js',
      'build/src/cli/plugin-api.js',
    ])
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    expect(fs.existsSync(path.join(dir, 'test'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'src'))).toBe(false);
  });

  it('type-checks and runs the documented example against the installed package', () => {
    const example = path.join(project, 'orchestrator.ts');
    fs.copyFileSync(path.join(ROOT, 'examples', 'orchestrator.ts'), example);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          outDir: 'out',
        },
        files: ['orchestrator.ts'],
      }),
    );
    run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], {
      cwd: project,
    });

    const sim = path.join(tmp, 'host');
    const targets = path.join(tmp, 'targets.json');
    fs.writeFileSync(
      targets,
      JSON.stringify({
        subsystems: [{ nqn: NQN, transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', namespaces: 1 }],
      }),
    );
    const nvmf = path.join(project, 'node_modules', 'nvmf-registry', 'build', 'cli', 'nvmf.cjs');
    run(process.execPath, [nvmf, 'sim', 'init', sim, '--targets', targets], { cwd: project });
    const env = {
      PATH: process.env['PATH'],
      HOME: tmp,
      NVMF_KERNEL: `sim:${sim}`,
      NVMF_AUDIT_SINK: 'file',
      NVMF_AUDIT_FILE: path.join(tmp, 'audit.jsonl'),
      NVMF_ETC_ROOT: path.join(tmp, 'etc'),
      TARGET_NQN: NQN,
    };
    const r = run(process.execPath, [path.join(project, 'out', 'orchestrator.js')], { cwd: project, env });
    const lines = r.stdout.split('\n');
    expect(lines).toContain('connected nvme0 owner=example-orchestrator reused=false');
    expect(lines.some((l) => l.startsWith('claim refused: nvme0 is owned by "example-orchestrator"'))).toBe(
      true,
    );
    expect(lines).toContain('entry nvme0 owner=example-orchestrator note=placed by the example');
    expect(lines).toContain('plan nvme0 disconnect: owned by example-orchestrator');
    expect(lines).toContain('disconnected nvme0');
    // the audit trail the example's openHost wired: the connect and the disconnect
    const actions = fs
      .readFileSync(env.NVMF_AUDIT_FILE, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { NVMF_ACTION?: string; action?: string })
      .map((rec) => rec.NVMF_ACTION ?? rec.action);
    expect(actions).toContain('connect');
    expect(actions).toContain('disconnect-all-disconnect');
  }, 600_000);
});
