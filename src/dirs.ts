import fs from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` with `mode` on every directory it creates, parents included, whatever the umask
 * (mkdirSync's recursive mode is filtered by the umask, so under umask 077 a created
 * `/run/nvme` would be 0700 and shut non-root readers out of the registry below it).
 * Directories that already exist are left as they are. A directory another process creates
 * meanwhile counts as existing. A failure is the real one of the first mkdir that failed
 * (EROFS on a read-only file system, EACCES), not the ENOENT of a parent that could not be made.
 */
export function makeDirs(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    if (fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined) break;
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    fs.chmodSync(p, mode);
  }
}
