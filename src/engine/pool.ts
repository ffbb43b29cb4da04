import { checkOptionalFunction, checkOptionalNumber, describe, invalidOption } from '../args.js';

/** Outcome of one item of a bounded-concurrency map. */
export type PoolResult<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Map `fn` over `items` with at most `concurrency` calls in flight. Every item gets a
 * result in input order; one failure neither stops nor hides the others.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PoolResult<R>[]> {
  checkOptionalNumber(concurrency, 'mapPool', 'concurrency', { min: 1, integer: true });
  if (concurrency === undefined) throw invalidOption('mapPool', 'concurrency is required');
  if (!isArrayLike(items)) throw invalidOption('mapPool', `items must be an array, got ${describe(items)}`);
  checkOptionalFunction(fn, 'mapPool', 'fn');
  if (fn === undefined) throw invalidOption('mapPool', 'fn is required');
  const results = new Array<PoolResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        results[i] = { ok: true, value: await fn(items[i] as T, i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

function isArrayLike(v: unknown): v is readonly unknown[] {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}
