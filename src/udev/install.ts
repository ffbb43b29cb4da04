import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../dirs.js';
import { errnoOf, NvmfError } from '../errors.js';
import type { Env } from '../roots.js';
import {
  DEFAULT_LIBEXEC_DIR,
  HELPER_NAME,
  HELPER_PATH,
  RULE_NAME,
  type UdevPaths,
  udevPaths,
} from './paths.js';
import { reloadUdev, udevdRunning } from './udevd.js';

/**
 * `nvmf udev install | uninstall | status`: put the shipped rule and helper where udevd runs
 * them, take them away, or say whether what is there is ours and current. Results are plain
 * JSON-able objects (the CLI prints them with `-o json`).
 */

export const RULE_MODE = 0o644;
export const HELPER_MODE = 0o755;

export interface UdevOptions extends Partial<UdevPaths> {
  env?: Env;
}

export interface FileState {
  path: string;
  /** A regular file is there. */
  installed: boolean;
  /** It is byte-identical to the packaged copy (and, for the helper, mode 0755). */
  current: boolean;
  /** Permission bits as octal text (`"0755"`), null when not installed. */
  mode: string | null;
}

export interface UdevdState {
  running: boolean;
  control: string;
}

export interface UdevStatus {
  rule: FileState;
  helper: FileState;
  udevd: UdevdState;
  /** Both installed and current: nothing for `install` to do. */
  upToDate: boolean;
  warnings: string[];
}

/**
 * `done`: udevd reloaded its rules. `not-running`: no udevd, it reads the rules when it
 * starts. `unchanged`: nothing was written or removed. `failed`: see `reloadError` (udevd
 * still notices changed rules files by their timestamps, only later).
 */
export type ReloadState = 'done' | 'not-running' | 'unchanged' | 'failed';

export interface InstallResult {
  rule: { path: string; changed: boolean };
  helper: { path: string; changed: boolean };
  udevd: UdevdState;
  reload: ReloadState;
  reloadError?: string;
  warnings: string[];
}

export interface UninstallResult {
  rule: { path: string; removed: boolean };
  helper: { path: string; removed: boolean };
  udevd: UdevdState;
  reload: ReloadState;
  reloadError?: string;
}

interface Resolved {
  paths: UdevPaths;
  rulePath: string;
  helperPath: string;
  packagedRule: string;
  packagedHelper: string;
}

function resolve(opts: UdevOptions): Resolved {
  const { env, ...given } = opts;
  const paths = udevPaths(given, env ?? process.env);
  return {
    paths,
    rulePath: path.join(paths.rulesDir, RULE_NAME),
    helperPath: path.join(paths.libexecDir, HELPER_NAME),
    packagedRule: path.join(paths.packagedDir, RULE_NAME),
    packagedHelper: path.join(paths.packagedDir, HELPER_NAME),
  };
}

/** The rule runs the helper by its fixed path; anywhere else is only right for a staged install. */
function warnings(r: Resolved): string[] {
  return r.helperPath === HELPER_PATH
    ? []
    : [
        `the rule runs ${HELPER_PATH} but the helper goes to ${r.helperPath}: right for a staged (DESTDIR) install, ` +
          'on a live host the rule would not find it',
      ];
}

const UDEV_STAGED_HINT = 'NVMF_UDEV_RULES_DIR / NVMF_LIBEXEC_DIR';

/** A file operation's failure; `staged` names the variables that move the target directories. */
export function fsError(e: unknown, what: string, file: string, staged = UDEV_STAGED_HINT): NvmfError {
  const code = errnoOf(e) ?? 'unknown error';
  const hint =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? `; run as root (or set ${staged} for a staged install)`
      : '';
  return new NvmfError(
    'EIO',
    `cannot ${what} ${file}: ${code}${hint}`,
    { path: file, errno: code },
    { cause: e },
  );
}

function readPackaged(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw fsError(e, 'read the packaged', file);
  }
}

/** What is at `file` compared with `packaged` (and, unless null, the mode `wantMode`). */
export function fileState(
  file: string,
  packaged: Buffer,
  wantMode: number | null,
  staged = UDEV_STAGED_HINT,
): FileState {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR')
      return { path: file, installed: false, current: false, mode: null };
    throw fsError(e, 'inspect', file, staged);
  }
  // A symlink here is someone else's arrangement (udev masks rules with /dev/null links): not ours.
  if (!st.isFile()) return { path: file, installed: false, current: false, mode: null };
  const mode = st.mode & 0o7777;
  let same: boolean;
  try {
    same = st.size === packaged.length && fs.readFileSync(file).equals(packaged);
  } catch (e) {
    throw fsError(e, 'read', file, staged);
  }
  return {
    path: file,
    installed: true,
    current: same && (wantMode === null || mode === wantMode),
    mode: `0${mode.toString(8).padStart(3, '0')}`,
  };
}

/** Write `data` to `target` with `mode` via a hidden temp file in the same directory and rename. */
export function writeAtomic(target: string, data: Buffer, mode: number, staged = UDEV_STAGED_HINT): void {
  const dir = path.dirname(target);
  try {
    makeDirs(dir, 0o755);
  } catch (e) {
    throw fsError(e, 'create directory', dir, staged);
  }
  // The temp name does not end in `.rules`, so udevd never reads a half-written rule.
  const tmp = path.join(
    dir,
    `.${path.basename(target)}.tmp.${process.pid}.${randomBytes(6).toString('hex')}`,
  );
  try {
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fchmodSync(fd, mode); // the umask may have narrowed the create mode
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fsError(e, 'write', target, staged);
  }
}

/** Remove a regular file; false when there is none (a symlink or directory there is not ours). */
export function removeFile(file: string, staged = UDEV_STAGED_HINT): boolean {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile()) return false;
    fs.unlinkSync(file);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false;
    throw fsError(e, 'remove', file, staged);
  }
}

function reloadIfRunning(
  r: Resolved,
  changed: boolean,
): { udevd: UdevdState; reload: ReloadState; reloadError?: string } {
  const udevd = { running: udevdRunning(r.paths.udevControl), control: r.paths.udevControl };
  if (!changed) return { udevd, reload: 'unchanged' };
  if (!udevd.running) return { udevd, reload: 'not-running' };
  const out = reloadUdev(r.paths.udevadm);
  return out.ok
    ? { udevd, reload: 'done' }
    : { udevd, reload: 'failed', reloadError: out.error ?? 'unknown error' };
}

export function udevStatus(opts: UdevOptions = {}): UdevStatus {
  const r = resolve(opts);
  const rule = fileState(r.rulePath, readPackaged(r.packagedRule), null);
  const helper = fileState(r.helperPath, readPackaged(r.packagedHelper), HELPER_MODE);
  return {
    rule,
    helper,
    udevd: { running: udevdRunning(r.paths.udevControl), control: r.paths.udevControl },
    upToDate: rule.current && helper.current,
    warnings: warnings(r),
  };
}

/**
 * Install the helper first, then the rule, so udevd never runs a rule whose helper is
 * missing. Files already current are left alone; udevd is reloaded only if something changed.
 */
export function installUdev(opts: UdevOptions = {}): InstallResult {
  const r = resolve(opts);
  const helperData = readPackaged(r.packagedHelper);
  const ruleData = readPackaged(r.packagedRule);
  const helperChanged = !fileState(r.helperPath, helperData, HELPER_MODE).current;
  if (helperChanged) writeAtomic(r.helperPath, helperData, HELPER_MODE);
  const ruleChanged = !fileState(r.rulePath, ruleData, null).current;
  if (ruleChanged) writeAtomic(r.rulePath, ruleData, RULE_MODE);
  return {
    rule: { path: r.rulePath, changed: ruleChanged },
    helper: { path: r.helperPath, changed: helperChanged },
    ...reloadIfRunning(r, ruleChanged || helperChanged),
    warnings: warnings(r),
  };
}

/** Remove the rule first (no more runs), then the helper and, if empty, its directory of ours. */
export function uninstallUdev(opts: UdevOptions = {}): UninstallResult {
  const r = resolve(opts);
  const ruleRemoved = removeFile(r.rulePath);
  const helperRemoved = removeFile(r.helperPath);
  if (path.basename(r.paths.libexecDir) === path.basename(DEFAULT_LIBEXEC_DIR)) {
    try {
      fs.rmdirSync(r.paths.libexecDir);
    } catch {
      // not empty (someone else's files) or already gone: leave it
    }
  }
  return {
    rule: { path: r.rulePath, removed: ruleRemoved },
    helper: { path: r.helperPath, removed: helperRemoved },
    ...reloadIfRunning(r, ruleRemoved || helperRemoved),
  };
}
