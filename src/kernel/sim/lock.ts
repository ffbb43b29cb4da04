import fs from 'node:fs';
import { errnoOf, NvmfError } from '../../errors.js';

/**
 * A cross-process mutex over the sim's state: `mkdir` is atomic, so one directory is one
 * holder. Critical sections are short (a few file writes); a lock older than `staleMs`
 * belongs to a crashed process and is taken over.
 */
const local = new Map<string, Promise<unknown>>();

export function withDirLock<T>(
  lockDir: string,
  fn: () => Promise<T> | T,
  o: { staleMs?: number; timeoutMs?: number } = {},
): Promise<T> {
  // Tasks of one process queue here first, so they hand over without polling the directory;
  // the mkdir lock then only arbitrates between processes.
  const prev = local.get(lockDir) ?? Promise.resolve();
  const run = prev.then(
    () => crossProcess(lockDir, fn, o),
    () => crossProcess(lockDir, fn, o),
  );
  const tail = run.catch(() => undefined);
  local.set(lockDir, tail);
  void tail.then(() => {
    if (local.get(lockDir) === tail) local.delete(lockDir);
  });
  return run;
}

async function crossProcess<T>(
  lockDir: string,
  fn: () => Promise<T> | T,
  o: { staleMs?: number; timeoutMs?: number },
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
      await new Promise((r) => setTimeout(r, Math.min(1 + i, 4) * Math.random() + 0.5));
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
