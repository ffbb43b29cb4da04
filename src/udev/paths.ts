import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NvmfError } from '../errors.js';
import type { Env } from '../roots.js';

export const RULE_NAME = '70-nvmf-registry.rules';
export const HELPER_NAME = 'nvmf-registry-cleanup';
export const DEFAULT_RULES_DIR = '/etc/udev/rules.d';
/** The rule names the helper by this fixed path, so the helper must be installed exactly here. */
export const DEFAULT_LIBEXEC_DIR = '/usr/libexec/nvmf-registry';
export const HELPER_PATH = path.join(DEFAULT_LIBEXEC_DIR, HELPER_NAME);
/** udevd's control socket: present while udevd runs. */
export const DEFAULT_UDEV_CONTROL = '/run/udev/control';

/** Where install/uninstall/status look. Every field can be given; env, then host defaults, fill the rest. */
export interface UdevPaths {
  /** Directory of the shipped rule and helper (the package's `udev/`). */
  packagedDir: string;
  rulesDir: string;
  libexecDir: string;
  /** udevd's control socket. */
  udevControl: string;
  /** The udevadm executable (looked up on PATH unless absolute). */
  udevadm: string;
}

/**
 * The package's `udev/` directory: found by walking up from this module, which lives in
 * `src/udev/` (tsx) or `build/src/udev/` (compiled), to the directory holding package.json.
 */
export function findPackagedDir(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'udev');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, RULE_NAME))) {
      return candidate;
    }
    const up = path.dirname(dir);
    if (up === dir) {
      throw new NvmfError(
        'EIO',
        `cannot find the packaged udev/${RULE_NAME} above ${from}; reinstall nvmf-registry (the package ships udev/)`,
        { from },
      );
    }
    dir = up;
  }
}

/**
 * Resolve the paths. Env overrides (for tests and staged installs): NVMF_UDEV_RULES_DIR,
 * NVMF_LIBEXEC_DIR, NVMF_UDEV_CONTROL, NVMF_UDEVADM.
 */
export function udevPaths(opts: Partial<UdevPaths> = {}, env: Env = process.env): UdevPaths {
  const pick = (given: string | undefined, name: string, fallback: string): string => {
    if (given !== undefined) return given;
    const v = env[name];
    return v !== undefined && v !== '' ? v : fallback;
  };
  return {
    packagedDir: opts.packagedDir ?? findPackagedDir(),
    rulesDir: path.resolve(pick(opts.rulesDir, 'NVMF_UDEV_RULES_DIR', DEFAULT_RULES_DIR)),
    libexecDir: path.resolve(pick(opts.libexecDir, 'NVMF_LIBEXEC_DIR', DEFAULT_LIBEXEC_DIR)),
    udevControl: path.resolve(pick(opts.udevControl, 'NVMF_UDEV_CONTROL', DEFAULT_UDEV_CONTROL)),
    udevadm: pick(opts.udevadm, 'NVMF_UDEVADM', 'udevadm'),
  };
}
