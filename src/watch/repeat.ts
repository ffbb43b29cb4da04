import fs from 'node:fs';

/** Rounds after which `repeatWhileChanging` stops even if the directory keeps changing. */
export const MAX_ROUNDS = 10;

/**
 * Run `fn`, and run it again while `dir` changed (inotify, one level) during the last run,
 * at most MAX_ROUNDS times. Every registry writer of this package creates and removes its
 * lock file (and connect intents) in the registry root around each change, so a watch of the
 * root sees owner and attribute changes inside entries too. A missing `dir` cannot be watched:
 * `fn` then runs once. Returns the number of runs.
 */
export async function repeatWhileChanging(dir: string, fn: () => Promise<void>): Promise<number> {
  const seen = { changed: false };
  let watcher: fs.FSWatcher | null;
  try {
    watcher = fs.watch(dir, { persistent: false }, () => {
      seen.changed = true;
    });
    // The directory itself removed or the watch lost: we cannot tell what happened, run again.
    watcher.on('error', () => {
      seen.changed = true;
    });
  } catch {
    watcher = null;
  }
  let rounds = 0;
  try {
    do {
      seen.changed = false;
      rounds++;
      await fn();
      // Let a whole poll phase run before looking: from inside a poll-phase callback (an I/O
      // completion, as at the end of an export) the next check phase comes before the next
      // poll, so one setImmediate would look before the kernel's queued event is read; the
      // second runs after a poll. A change that lands later is the path unit's to see again.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while (watcher !== null && seen.changed && rounds < MAX_ROUNDS);
  } finally {
    watcher?.close();
  }
  return rounds;
}
