import fs from 'node:fs';
import path from 'node:path';
import { errnoOf, NvmfError } from '../errors.js';
import { etcRoot } from '../host-identity.js';
import type { Env } from '../roots.js';

/** Plugins shipped in `plugins/`. The registry plugin is on unless configured off. */
export const KNOWN_PLUGINS = ['registry'] as const;
export type KnownPlugin = (typeof KNOWN_PLUGINS)[number];
const DEFAULT_ENABLED: readonly KnownPlugin[] = ['registry'];

/** `NVMF_CONFIG`, else `<etc>/nvme/nvmf.json`. */
export function configPath(env: Env): string {
  const v = env['NVMF_CONFIG'];
  return v !== undefined && v !== '' ? path.resolve(v) : path.join(etcRoot(env), 'nvme', 'nvmf.json');
}

function isKnown(name: string): name is KnownPlugin {
  return (KNOWN_PLUGINS as readonly string[]).includes(name);
}

/**
 * Pure: which plugins are enabled, from the `NVMF_PLUGINS` variable (wins when set) and the
 * parsed config file. `NVMF_PLUGINS` is a comma-separated list of names, `none` or empty for
 * none. The file says `{"plugins": {"registry": {"enabled": false}}}`.
 */
export function resolveEnabledPlugins(
  envValue: string | undefined,
  file: unknown,
  fileName: string,
): KnownPlugin[] {
  if (envValue !== undefined) {
    const names = envValue
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== 'none');
    for (const n of names) {
      if (!isKnown(n)) {
        throw new NvmfError(
          'ECONFIG',
          `NVMF_PLUGINS names unknown plugin "${n}"; known plugins: ${KNOWN_PLUGINS.join(', ')} (use "none" to disable all)`,
          { plugin: n },
        );
      }
    }
    return [...new Set(names)] as KnownPlugin[];
  }
  const enabled = new Set<KnownPlugin>(DEFAULT_ENABLED);
  if (file === undefined) return [...enabled];
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    throw new NvmfError(
      'ECONFIG',
      `${fileName} must hold a JSON object like {"plugins":{"registry":{"enabled":true}}}`,
      {
        file: fileName,
      },
    );
  }
  const plugins = (file as Record<string, unknown>)['plugins'];
  if (plugins === undefined) return [...enabled];
  if (typeof plugins !== 'object' || plugins === null || Array.isArray(plugins)) {
    throw new NvmfError('ECONFIG', `"plugins" in ${fileName} must be an object keyed by plugin name`, {
      file: fileName,
    });
  }
  for (const [name, conf] of Object.entries(plugins as Record<string, unknown>)) {
    if (!isKnown(name)) {
      throw new NvmfError(
        'ECONFIG',
        `${fileName} configures unknown plugin "${name}"; known plugins: ${KNOWN_PLUGINS.join(', ')}`,
        { file: fileName, plugin: name },
      );
    }
    const on =
      typeof conf === 'object' && conf !== null ? (conf as Record<string, unknown>)['enabled'] : undefined;
    if (typeof on !== 'boolean') {
      throw new NvmfError('ECONFIG', `plugins.${name}.enabled in ${fileName} must be true or false`, {
        file: fileName,
        plugin: name,
      });
    }
    if (on) enabled.add(name);
    else enabled.delete(name);
  }
  return KNOWN_PLUGINS.filter((n) => enabled.has(n));
}

/** Read the config file (absent = defaults) and resolve the enabled plugins. */
export function enabledPlugins(env: Env): KnownPlugin[] {
  const file = configPath(env);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') parsed = undefined;
    else if (e instanceof SyntaxError) {
      throw new NvmfError('ECONFIG', `${file} is not valid JSON (${e.message}); fix or remove it`, { file });
    } else {
      throw new NvmfError(
        'ECONFIG',
        `cannot read ${file} (${errnoOf(e) ?? String(e)}); fix its permissions or remove it`,
        {
          file,
        },
      );
    }
  }
  return resolveEnabledPlugins(env['NVMF_PLUGINS'], parsed, file);
}
