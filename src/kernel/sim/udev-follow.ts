import fs from 'node:fs';
import { simLayout } from './layout.js';
import type { UdevLogRecord } from './udev-queue.js';

export interface SimUdevFollower {
  stop(): void;
}

/** How often the log is looked at; the simulated udevd appends a record per processed event. */
const POLL_MS = 100;

/**
 * The simulated host's `udevadm monitor --udev`: every event its udevd processes from now on
 * (the records it appends to its log, in processing order), handed to `onRecord`. Events
 * processed before the call are not replayed, as udevadm shows only what happens while it runs.
 */
export function followSimUdev(dir: string, onRecord: (r: UdevLogRecord) => void): SimUdevFollower {
  const log = simLayout(dir).udevLog;
  const sizeNow = (): number => fs.statSync(log, { throwIfNoEntry: false })?.size ?? 0;
  let offset = sizeNow();
  let partial = '';
  const poll = (): void => {
    const size = sizeNow();
    if (size < offset) {
      offset = 0; // the log was replaced (a new sim init): read the new one from its start
      partial = '';
    }
    if (size === offset) return;
    const fd = fs.openSync(log, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      offset += n;
      partial += buf.toString('utf8', 0, n);
    } finally {
      fs.closeSync(fd);
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (l === '') continue;
      try {
        onRecord(JSON.parse(l) as UdevLogRecord);
      } catch {
        // a torn line cannot happen with appendFileSync of one line; skip one if it does
      }
    }
  };
  const timer = setInterval(() => {
    try {
      poll();
    } catch {
      // the log vanished between stat and open: the next poll starts over
    }
  }, POLL_MS);
  return { stop: () => clearInterval(timer) };
}
