import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** udevd runs when its control socket exists (udevd creates it at start, removes it at exit). */
export function udevdRunning(controlSocket: string): boolean {
  try {
    return fs.statSync(controlSocket).isSocket();
  } catch {
    return false;
  }
}

export interface ReloadOutcome {
  ok: boolean;
  /** What went wrong, for the operator: the command and its stderr or errno. */
  error?: string;
}

/** `udevadm control --reload`: udevd re-reads rules files (it also notices them by mtime, but later). */
export function reloadUdev(udevadm: string, timeoutMs = 10_000): ReloadOutcome {
  const r = spawnSync(udevadm, ['control', '--reload'], { encoding: 'utf8', timeout: timeoutMs });
  const cmd = `${udevadm} control --reload`;
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      error:
        code === 'ENOENT'
          ? `${cmd}: ${udevadm} not found; run it by hand once it is installed`
          : `${cmd}: ${code ?? r.error.message}`,
    };
  }
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim() || (r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`);
    return { ok: false, error: `${cmd}: ${why}` };
  }
  return { ok: true };
}
