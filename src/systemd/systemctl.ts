import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** systemd is the init system when this directory exists (sd_booted(3)). */
export const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';

export function systemdRunning(runtimeDir: string = SYSTEMD_RUNTIME_DIR): boolean {
  try {
    return fs.statSync(runtimeDir).isDirectory();
  } catch {
    return false;
  }
}

export interface SystemctlOutcome {
  ok: boolean;
  stdout: string;
  /** What went wrong, for the operator: the command and its stderr or errno. */
  error?: string;
}

/** Run `systemctl ARGS`; never throws. */
export function systemctl(exe: string, args: readonly string[], timeoutMs = 60_000): SystemctlOutcome {
  const r = spawnSync(exe, args, { encoding: 'utf8', timeout: timeoutMs });
  const cmd = `${exe} ${args.join(' ')}`;
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      stdout: '',
      error: code === 'ENOENT' ? `${cmd}: ${exe} not found` : `${cmd}: ${code ?? r.error.message}`,
    };
  }
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim() || (r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`);
    return { ok: false, stdout: r.stdout ?? '', error: `${cmd}: ${why}` };
  }
  return { ok: true, stdout: r.stdout ?? '' };
}

export interface UnitState {
  /** `UnitFileState`: enabled, disabled, static, masked, ... (empty when systemd has no such unit). */
  enabled: string;
  /** `ActiveState`/`SubState`, e.g. `active/waiting`, `inactive/dead`. */
  active: string;
}

/** `systemctl show` of several units at once: blocks of `Key=value` lines, one per unit, in order. */
export function parseShow(stdout: string, names: readonly string[]): Map<string, UnitState> {
  const out = new Map<string, UnitState>();
  for (const block of stdout.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
    }
    const id = kv.get('Id');
    if (id === undefined || !names.includes(id)) continue;
    out.set(id, {
      enabled: kv.get('UnitFileState') ?? '',
      active: `${kv.get('ActiveState') ?? ''}/${kv.get('SubState') ?? ''}`,
    });
  }
  return out;
}
