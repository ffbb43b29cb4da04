import { createRequire } from 'node:module';
import type KoffiModule from 'koffi';

/**
 * glibc through koffi, for the calls Node has no binding for (flock, renameat2) and the
 * libc list reader. Loaded once per process, on the first call that needs it: a process
 * that never takes a lock, replaces an entry or lists a large registry twice never pays
 * for koffi.
 */
export interface Libc {
  /** Declare a function of libc by its C prototype. */
  func(prototype: string): (...args: never[]) => unknown;
  /** errno as the last call left it. */
  errno(): number;
}

let loaded: Libc | { error: unknown } | undefined;

/** libc, or the reason it cannot be had here (no koffi build for this platform, no glibc). */
export function libc(): Libc | { error: unknown } {
  if (loaded !== undefined) return loaded;
  try {
    // The literal id matters: a bundler includes `require('koffi')` but not a require of a
    // variable. A CommonJS bundle has require but no import.meta.url; the ES build the reverse.
    const koffi = (
      typeof require === 'function' ? require('koffi') : createRequire(import.meta.url)('koffi')
    ) as typeof KoffiModule;
    const lib = koffi.load('libc.so.6');
    loaded = {
      func: (prototype) => lib.func(prototype) as (...args: never[]) => unknown,
      errno: () => koffi.errno(),
    };
  } catch (e) {
    loaded = { error: e };
  }
  return loaded;
}
