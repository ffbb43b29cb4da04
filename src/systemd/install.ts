import fs from 'node:fs';
import path from 'node:path';
import { errnoOf, NvmfError } from '../errors.js';
import { type Env, rootsFromEnv } from '../roots.js';
import { type FileState, fileState, fsError, removeFile, writeAtomic } from '../udev/install.js';
import { parseShow, SYSTEMD_RUNTIME_DIR, systemctl, systemdRunning, type UnitState } from './systemctl.js';
import {
  bakedEnvironment,
  checkPlain,
  DEFAULT_TEXTFILE,
  EXPORT_SERVICE,
  findUnitTemplates,
  GC_SERVICE,
  renderUnits,
  TRIGGER_UNITS,
  textfileOf,
  type UnitConfig,
  UNIT_NAMES,
  type UnitName,
} from './units.js';

/**
 * `nvmf systemd install | uninstall | status`: the units that keep a node_exporter textfile
 * fresh (a path unit on the registry root and a refresh timer, both starting a oneshot
 * `nvmf registry export`) and a gc timer, as `nvmf udev` does for the rule. The units are
 * filled in for this host: the absolute node and bin of this package, the registry root, the
 * textfile and the baked variables; `status` compares what is installed with exactly that.
 */

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const UNIT_MODE = 0o644;
const STAGED = 'NVMF_SYSTEMD_UNIT_DIR';

/** Directories on systemd's system unit search path (systemd.unit(5)); elsewhere is a staged install. */
const SEARCH_PATH = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];

export interface SystemdOptions {
  env?: Env;
  /** Where the units go (else `NVMF_SYSTEMD_UNIT_DIR`, else /etc/systemd/system). */
  unitDir?: string;
  /** The textfile (else the one the installed export service names, else DEFAULT_TEXTFILE). */
  textfile?: string;
  /** The registry root the path unit watches (else from `env`'s roots). */
  registryRoot?: string;
  /** The command that runs nvmf (else this node and this package's bin). */
  nvmf?: readonly string[];
  /** The unit templates (else the package's `systemd/`). */
  templatesDir?: string;
  /** The systemctl executable (else `NVMF_SYSTEMCTL`, else `systemctl` on PATH); false: never run it. */
  systemctl?: string | false;
  /** sd_booted's directory, present when systemd is the init system. */
  runtimeDir?: string;
  /** Directories systemd reads units from (tests name a temp dir; else systemd's own list). */
  searchPath?: readonly string[];
}

/**
 * `done`: every systemctl step succeeded. `skipped`: none was run (see `reason`). `failed`:
 * see `error` (the files are in place; run the step by hand).
 */
export interface SystemctlReport {
  state: 'done' | 'skipped' | 'failed';
  reason?: string;
  /** The systemctl commands run, in order. */
  ran: string[];
  error?: string;
}

export interface UnitFile extends FileState {
  name: UnitName;
}

export interface SystemdStatus {
  unitDir: string;
  units: Array<UnitFile & { enabled: string | null; active: string | null }>;
  textfile: { path: string; exists: boolean };
  /** The command the services run. */
  exec: string;
  environment: Record<string, string>;
  systemctl: { queried: boolean; reason?: string; error?: string };
  /** Every unit installed and identical to what `install` would write now. */
  upToDate: boolean;
  warnings: string[];
}

export interface SystemdInstallResult {
  unitDir: string;
  units: Array<{ name: UnitName; path: string; changed: boolean }>;
  textfile: { path: string; directoryCreated: boolean };
  exec: string;
  environment: Record<string, string>;
  systemctl: SystemctlReport;
  warnings: string[];
}

export interface SystemdUninstallResult {
  unitDir: string;
  units: Array<{ name: UnitName; path: string; removed: boolean }>;
  textfile: { path: string; removed: boolean };
  systemctl: SystemctlReport;
}

interface Located {
  unitDir: string;
  files: Map<UnitName, string>;
  textfile: string;
  systemctl: { exe: string } | { skip: string };
  warnings: string[];
}

interface Resolved extends Located {
  config: UnitConfig;
  texts: Map<UnitName, Buffer>;
}

function pickEnv(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v !== undefined && v !== '' ? v : fallback;
}

/** This node and the package's `bin.nvmf` (the bundle a global install puts on PATH). */
function defaultNvmf(templatesDir: string): string[] {
  const root = path.dirname(templatesDir);
  let bin: string | undefined;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      bin?: Record<string, string>;
    };
    bin = pkg.bin?.['nvmf'];
  } catch (e) {
    throw fsError(e, 'read', path.join(root, 'package.json'), STAGED);
  }
  if (bin === undefined) throw new NvmfError('EIO', `${root}/package.json names no nvmf bin`, {});
  return [process.execPath, path.resolve(root, bin)];
}

/** The command's executables that are not there (a package not built, a node moved). */
function missing(nvmf: readonly string[]): string[] {
  return nvmf.filter((p) => !fs.existsSync(p));
}

function installedText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR' || errnoOf(e) === 'EISDIR') return null;
    throw fsError(e, 'read', file, STAGED);
  }
}

/** Where things are and whether systemctl may run: all that uninstall needs. */
function locate(opts: SystemdOptions): Located {
  const env = opts.env ?? process.env;
  const unitDir = path.resolve(opts.unitDir ?? pickEnv(env, 'NVMF_SYSTEMD_UNIT_DIR', DEFAULT_UNIT_DIR));
  const files = new Map(UNIT_NAMES.map((n) => [n, path.join(unitDir, n)] as const));
  const installedService = installedText(files.get(EXPORT_SERVICE) as string);
  const textfile = path.resolve(
    opts.textfile ?? (installedService !== null ? textfileOf(installedService) : null) ?? DEFAULT_TEXTFILE,
  );
  const warnings: string[] = [];
  let sc: Located['systemctl'];
  if (opts.systemctl === false) sc = { skip: 'not asked to (--no-systemctl)' };
  else if (!(opts.searchPath ?? SEARCH_PATH).includes(unitDir)) {
    sc = { skip: `${unitDir} is not on systemd's search path` };
    warnings.push(`systemd does not read ${unitDir}: a staged install only`);
  } else if (!systemdRunning(opts.runtimeDir ?? SYSTEMD_RUNTIME_DIR)) sc = { skip: 'systemd is not running' };
  else sc = { exe: opts.systemctl ?? pickEnv(env, 'NVMF_SYSTEMCTL', 'systemctl') };
  return { unitDir, files, textfile, systemctl: sc, warnings };
}

/** `locate`, plus the units as install would write them now. */
function resolve(opts: SystemdOptions): Resolved {
  const env = opts.env ?? process.env;
  const l = locate(opts);
  const templatesDir = opts.templatesDir ?? findUnitTemplates();
  const config: UnitConfig = {
    nvmf: (opts.nvmf ?? defaultNvmf(templatesDir)).map((p) => checkPlain(p, 'the nvmf command')),
    registryRoot: checkPlain(
      path.resolve(opts.registryRoot ?? rootsFromEnv(pickRootEnv(env)).registry),
      'the registry root',
    ),
    textfile: checkPlain(l.textfile, 'the textfile'),
    environment: bakedEnvironment(env),
  };
  const texts = new Map<UnitName, Buffer>();
  for (const [name, text] of renderUnits(templatesDir, config)) texts.set(name, Buffer.from(text));
  return { ...l, config, texts };
}

/** rootsFromEnv takes only its own keys. */
function pickRootEnv(env: Env): Env {
  const { NVMF_REGISTRY_ROOT, NVMF_SYSFS_ROOT, NVMF_DEV_ROOT } = env;
  return { NVMF_REGISTRY_ROOT, NVMF_SYSFS_ROOT, NVMF_DEV_ROOT };
}

function unitStates(r: Resolved): Array<UnitFile> {
  return UNIT_NAMES.map((name) => ({
    name,
    ...fileState(r.files.get(name) as string, r.texts.get(name) as Buffer, UNIT_MODE, STAGED),
  }));
}

/** Run systemctl steps in order, stopping at the first failure. */
function runSteps(r: Located, steps: string[][]): SystemctlReport {
  if ('skip' in r.systemctl) return { state: 'skipped', reason: r.systemctl.skip, ran: [] };
  const ran: string[] = [];
  for (const args of steps) {
    ran.push(`systemctl ${args.join(' ')}`);
    const out = systemctl(r.systemctl.exe, args);
    if (!out.ok) return { state: 'failed', ran, error: out.error ?? 'unknown error' };
  }
  return { state: 'done', ran };
}

const describeConfig = (c: UnitConfig) => ({
  exec: c.nvmf.join(' '),
  environment: Object.fromEntries(c.environment),
});

export function systemdStatus(opts: SystemdOptions = {}): SystemdStatus {
  const r = resolve(opts);
  const files = unitStates(r);
  for (const p of missing(r.config.nvmf)) r.warnings.push(`the units run ${p}, which is missing`);
  let states = new Map<string, UnitState>();
  let sc: SystemdStatus['systemctl'];
  if ('skip' in r.systemctl) sc = { queried: false, reason: r.systemctl.skip };
  else {
    const out = systemctl(r.systemctl.exe, [
      'show',
      '--property=Id,UnitFileState,ActiveState,SubState',
      ...UNIT_NAMES,
    ]);
    if (out.ok) {
      states = parseShow(out.stdout, UNIT_NAMES);
      sc = { queried: true };
    } else sc = { queried: false, error: out.error ?? 'unknown error' };
  }
  return {
    unitDir: r.unitDir,
    units: files.map((f) => ({
      ...f,
      enabled: states.get(f.name)?.enabled ?? null,
      active: states.get(f.name)?.active ?? null,
    })),
    textfile: { path: r.config.textfile, exists: fs.existsSync(r.config.textfile) },
    ...describeConfig(r.config),
    systemctl: sc,
    upToDate: files.every((f) => f.current),
    warnings: r.warnings,
  };
}

/**
 * Write the units that are not current (services first, so nothing triggers a service that
 * is not there yet), make the textfile's directory, then `daemon-reload` (when a file
 * changed), `enable` the path unit and timers, and `restart` them when a file changed (a
 * running path unit keeps watching its old path otherwise) or `start` them.
 */
export function installSystemd(opts: SystemdOptions = {}): SystemdInstallResult {
  const r = resolve(opts);
  const gone = missing(r.config.nvmf);
  if (gone.length > 0) {
    throw new NvmfError(
      'EIO',
      `${gone.join(' and ')} missing: the units could not run it (build the package first: npm run build)`,
      {
        path: gone[0],
      },
    );
  }
  const units = unitStates(r).map((f) => {
    if (!f.current) writeAtomic(f.path, r.texts.get(f.name) as Buffer, UNIT_MODE, STAGED);
    return { name: f.name, path: f.path, changed: !f.current };
  });
  const dir = path.dirname(r.config.textfile);
  let directoryCreated = false;
  if (!fs.existsSync(dir)) {
    try {
      const first = fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      // node_exporter reads it as another user: 0755 whatever the umask, parents included.
      for (let d = dir; first !== undefined && d.length >= first.length; d = path.dirname(d))
        fs.chmodSync(d, 0o755);
      directoryCreated = true;
    } catch (e) {
      throw fsError(e, 'create directory', dir, STAGED);
    }
  }
  const changed = units.some((u) => u.changed);
  const steps = [
    ...(changed ? [['daemon-reload']] : []),
    ['enable', ...TRIGGER_UNITS],
    [changed ? 'restart' : 'start', ...TRIGGER_UNITS],
  ];
  return {
    unitDir: r.unitDir,
    units,
    textfile: { path: r.config.textfile, directoryCreated },
    ...describeConfig(r.config),
    systemctl: runSteps(r, steps),
    warnings: r.warnings,
  };
}

/**
 * Stop and disable the triggers (then the services, should one be running), remove the
 * unit files (triggers first), `daemon-reload`, and remove the textfile, whose metrics would
 * otherwise stay frozen in node_exporter. When stopping fails nothing is removed: files of
 * units systemd still runs would leave them running unseen.
 */
export function uninstallSystemd(opts: SystemdOptions = {}): SystemdUninstallResult {
  const r = locate(opts);
  const present = UNIT_NAMES.filter((n) => fs.existsSync(r.files.get(n) as string));
  const triggers = TRIGGER_UNITS.filter((n) => present.includes(n));
  const services = ([EXPORT_SERVICE, GC_SERVICE] as UnitName[]).filter((n) => present.includes(n));
  const steps = [
    ...(triggers.length > 0 ? [['disable', '--now', ...triggers]] : []),
    ...(services.length > 0 ? [['stop', ...services]] : []),
  ];
  const stopped = steps.length > 0 ? runSteps(r, steps) : null;
  const result = (removed: ReadonlySet<string>, textfileRemoved: boolean, systemctl: SystemctlReport) => ({
    unitDir: r.unitDir,
    units: UNIT_NAMES.map((name) => ({
      name,
      path: r.files.get(name) as string,
      removed: removed.has(name),
    })),
    textfile: { path: r.textfile, removed: textfileRemoved },
    systemctl,
  });
  if (stopped !== null && stopped.state === 'failed') return result(new Set(), false, stopped);
  const removed = new Set<string>();
  for (const n of [...UNIT_NAMES].reverse()) if (removeFile(r.files.get(n) as string, STAGED)) removed.add(n);
  const reloaded = removed.size > 0 ? runSteps(r, [['daemon-reload']]) : null;
  const report: SystemctlReport =
    reloaded === null
      ? (stopped ?? runSteps(r, []))
      : { ...reloaded, ran: [...(stopped?.ran ?? []), ...reloaded.ran] };
  // Only a textfile the export service wrote: with no unit of ours there, leave the path alone.
  const textfileRemoved = present.includes(EXPORT_SERVICE) && removeFile(r.textfile, STAGED);
  return result(removed, textfileRemoved, report);
}
