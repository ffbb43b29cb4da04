import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NvmfError } from '../errors.js';
import type { Env } from '../roots.js';

/**
 * The shipped systemd units (the package's `systemd/` directory) and how they are filled in.
 * Pure apart from reading the templates: what a unit file holds depends only on its template
 * and a `UnitConfig`, so `status` can compare an installed file with what `install` would write.
 */

export const EXPORT_PATH = 'nvmf-registry-export.path';
export const EXPORT_SERVICE = 'nvmf-registry-export.service';
export const EXPORT_TIMER = 'nvmf-registry-export.timer';
export const GC_SERVICE = 'nvmf-registry-gc.service';
export const GC_TIMER = 'nvmf-registry-gc.timer';

/** Every unit, in install order: services before what triggers them. */
export const UNIT_NAMES = [EXPORT_SERVICE, GC_SERVICE, EXPORT_PATH, EXPORT_TIMER, GC_TIMER] as const;
export type UnitName = (typeof UNIT_NAMES)[number];

/** The units `install` enables and starts; the services run only when these trigger them. */
export const TRIGGER_UNITS = [EXPORT_PATH, EXPORT_TIMER, GC_TIMER] as const;

/** node_exporter's textfile collector directory on Debian and Ubuntu (prometheus-node-exporter). */
export const DEFAULT_TEXTFILE = '/var/lib/prometheus/node-exporter/nvmf_registry.prom';

/**
 * Variables that decide which host and registry the units' commands look at: baked into the
 * services as `Environment=` when set (non-empty) where `install` runs.
 */
export const BAKED_ENV = [
  'NVMF_REGISTRY_ROOT',
  'NVMF_SYSFS_ROOT',
  'NVMF_DEV_ROOT',
  'NVMF_PROC_ROOT',
  'NVMF_ETC_ROOT',
  'NVMF_KERNEL',
  'NVMF_CONFIG',
  'NVMF_PLUGINS',
] as const;

export interface UnitConfig {
  /** The command that runs `nvmf`: absolute node executable and absolute bin script. */
  nvmf: readonly string[];
  /** Absolute registry root the path unit watches. */
  registryRoot: string;
  /** Absolute textfile the export service writes. */
  textfile: string;
  /** Baked variables, in BAKED_ENV order. */
  environment: ReadonlyArray<readonly [string, string]>;
}

/**
 * A value we write into a unit file unquoted. systemd splits ExecStart= on whitespace,
 * expands `%` specifiers and `$` variables and interprets `\` and quotes, so anything beyond
 * this plain set is refused rather than escaped: such paths are rare, and a wrong escape
 * would run a different command as root.
 */
const PLAIN = /^[A-Za-z0-9_.,:+@=/-]+$/;

export function checkPlain(value: string, what: string): string {
  if (!PLAIN.test(value)) {
    throw new NvmfError(
      'EUSAGE',
      `${what} ${JSON.stringify(value)} cannot go into a systemd unit as it is: use a path of letters, digits and _ . , : + @ = / - only`,
      { value },
    );
  }
  return value;
}

/** The variables of `env` that the units bake in, checked. */
export function bakedEnvironment(env: Env): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const k of BAKED_ENV) {
    const v = env[k];
    if (v !== undefined && v !== '') out.push([k, checkPlain(v, k)]);
  }
  return out;
}

/**
 * The package's `systemd/` directory, found by walking up from this module (in `src/systemd/`
 * under tsx, `build/src/systemd/` compiled) to the directory holding package.json.
 */
export function findUnitTemplates(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'systemd');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, EXPORT_SERVICE)))
      return candidate;
    const up = path.dirname(dir);
    if (up === dir) {
      throw new NvmfError(
        'EIO',
        `cannot find the packaged systemd/${EXPORT_SERVICE} above ${from}; reinstall nvmf-registry (the package ships systemd/)`,
        { from },
      );
    }
    dir = up;
  }
}

/** Fill in one template: `@NVMF@`, `@REGISTRY_ROOT@`, `@TEXTFILE@`, and the `@ENVIRONMENT@` line. */
export function renderUnit(template: string, c: UnitConfig): string {
  const env = c.environment.map(([k, v]) => `Environment=${k}=${v}`);
  const lines: string[] = [];
  for (const line of template.split('\n')) {
    if (line === '@ENVIRONMENT@') lines.push(...env);
    else
      lines.push(
        line
          .replaceAll('@NVMF@', c.nvmf.join(' '))
          .replaceAll('@REGISTRY_ROOT@', c.registryRoot)
          .replaceAll('@TEXTFILE@', c.textfile),
      );
  }
  const text = lines.join('\n');
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new NvmfError('EIO', `the packaged unit template has an unknown field ${left[0]}`, {});
  return text;
}

/** Every unit's text for `c`, read from the templates in `dir`. */
export function renderUnits(dir: string, c: UnitConfig): Map<UnitName, string> {
  const out = new Map<UnitName, string>();
  for (const name of UNIT_NAMES) {
    let template: string;
    try {
      template = fs.readFileSync(path.join(dir, name), 'utf8');
    } catch (e) {
      throw new NvmfError(
        'EIO',
        `cannot read the packaged unit ${path.join(dir, name)}: ${(e as Error).message}`,
        {
          path: path.join(dir, name),
        },
      );
    }
    out.set(name, renderUnit(template, c));
  }
  return out;
}

/** The `--path` an installed export service writes to, or null (not ours, or no such line). */
export function textfileOf(serviceText: string): string | null {
  const m = /^ExecStart=.* registry export .*--path (\S+)\s*$/m.exec(serviceText);
  return m ? (m[1] as string) : null;
}
