import { createRequire } from 'node:module';
import type KoffiModule from 'koffi';
import { errnoError } from './fsx.js';

/**
 * `renameat2(RENAME_EXCHANGE)`: swap two existing paths in one step, so a directory that
 * is replaced is at its name before and after, never absent in between. Node has no
 * binding for it; glibc (2.28 on) does, reached through koffi like the libc reader. Loaded
 * on the first exchange only: replacing an entry is rare (a recycled instance), and a
 * process that never replaces one never pays for koffi.
 */

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const ENOSYS = 38;

type Renameat2 = (
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
) => number;

let fn: { renameat2: Renameat2; errno: () => number } | null | undefined;

function load(): typeof fn {
  if (fn !== undefined) return fn;
  try {
    // The literal id matters for bundlers, as in libc-reader.ts.
    const koffi = (
      typeof require === 'function' ? require('koffi') : createRequire(import.meta.url)('koffi')
    ) as typeof KoffiModule;
    const lib = koffi.load('libc.so.6');
    fn = {
      renameat2: lib.func(
        'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
      ) as Renameat2,
      errno: () => koffi.errno(),
    };
  } catch {
    fn = null;
  }
  return fn;
}

/**
 * Atomically swap the objects at `a` and `b` (absolute paths, both must exist). Throws the
 * failure as a Node-style errno Error: ENOENT when either is gone, EINVAL when the file
 * system does not support the exchange, ENOSYS when this process cannot make the call at
 * all (no koffi build, no glibc, a kernel before 3.15).
 */
export function exchangePaths(a: string, b: string): void {
  const c = load();
  if (c === null || c === undefined) throw errnoError(ENOSYS, 'renameat2');
  if (c.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) !== 0) throw errnoError(c.errno(), 'renameat2');
}
