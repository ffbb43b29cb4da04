import { writeSync } from 'node:fs';
import type { Writer } from './context.js';

type ErrorListener = (e: NodeJS.ErrnoException) => void;

/** A Writer that reports failed writes as an 'error' event, as a stream does. */
export interface FdWriter extends Writer {
  on(event: 'error', listener: ErrorListener): FdWriter;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The CLI's stdout and stderr: write(2) on the descriptor, synchronously. Node's
 * process.stdout is a stream whose first use loads the stream stack (measured ~3 ms of CPU,
 * about a tenth of a bare `node -e 0`), and Node writes files, pipes and terminals
 * synchronously on Linux anyway, so output and its order are the same. A descriptor left
 * non-blocking by someone else (EAGAIN) is waited on; any other failure goes to the 'error'
 * listeners (closed-pipe.ts decides what it means) and the rest of that text is dropped.
 */
export function fdWriter(fd: number): FdWriter {
  const listeners: ErrorListener[] = [];
  const writer: FdWriter = {
    on(_event, listener) {
      listeners.push(listener);
      return writer;
    },
    write(text) {
      const buf = Buffer.from(text, 'utf8');
      let off = 0;
      while (off < buf.length) {
        try {
          off += writeSync(fd, buf, off);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (err.code === 'EAGAIN') {
            Atomics.wait(pause, 0, 0, 1);
            continue;
          }
          if (listeners.length === 0) throw err;
          for (const l of listeners) l(err);
          return;
        }
      }
    },
  };
  return writer;
}
