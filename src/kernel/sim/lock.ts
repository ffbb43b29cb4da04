import fs from 'node:fs';
import { errnoOf, NvmfError } from '../../errors.js';

/**
 * A cross-process mutex over the sim's state: `mkdir` is atomic, so one directory is one
 * holder. Critical sections are short (a few file writes); a lock older than `staleMs`
 * belongs to a crashed process and is taken over.
 */
export async function withDirLock<T>(
  lockDir: string,
  fn: () => Promise<T> | T,
  o: { staleMs?: number; timeoutMs?: number } = {},
): Promise<T> {
  const staleMs = o.staleMs ?? 10_000;
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
      try {
        const st = fs.statSync(lockDir);
        if (Date.now() - st.mtimeMs > staleMs) {
          fs.rmdirSync(lockDir);
          continue;
        }
      } catch {
        continue; // released between mkdir and stat
      }
      if (Date.now() > deadline) {
        throw new NvmfError(
          'ELOCKED',
          `simulated kernel lock ${lockDir} is held too long; remove it if no sim process runs`,
          {
            path: lockDir,
          },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(1 + i, 5) + Math.random() * 2));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      fs.rmdirSync(lockDir);
    } catch {
      // taken over as stale; nothing left to release
    }
  }
}
