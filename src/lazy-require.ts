import { createRequire } from 'node:module';

/**
 * A package or builtin loaded synchronously on first use, for dependencies that only rare
 * paths need (start-up of `nvmf registry list` must not pay for them). Works in both builds:
 * the CommonJS bundle of the CLI has `require` but no `import.meta.url`; the ES build of the
 * library has `import.meta.url` but no `require`. Package ids only: our own modules that load
 * lazily keep a literal require so the bundler can include them.
 */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= (typeof require === 'function' ? require(id) : createRequire(import.meta.url)(id)) as T;
    return loaded;
  };
}
