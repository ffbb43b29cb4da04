import { errnoError } from './fsx.js';
import { libc } from './libc.js';

/**
 * `renameat2(RENAME_EXCHANGE)`: swap two existing paths in one step, so a directory that
 * is replaced is at its name before and after, never absent in between. Node has no
 * binding for it; glibc (2.28 on) does, reached through koffi (libc.ts). Loaded
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
  const c = libc();
  fn =
    'error' in c
      ? null
      : {
          renameat2: c.func(
            'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
          ) as unknown as Renameat2,
          errno: c.errno,
        };
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
