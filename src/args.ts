import { describe, NvmfError } from './errors.js';

export { describe };

/**
 * Argument checks of the public API. Every exported function and method checks the types of
 * its arguments before acting and refuses a wrong one with NvmfError (EINVALID_OPTION here,
 * or the code of the value's own grammar: EINVALID_DEVICE, EINVALID_OWNER, ...), never with a
 * TypeError from deeper code. Describing a bad value for a message never throws either:
 * describe() runs no code of the value's own (no toString, toJSON, getter or proxy trap).
 */

export function invalidOption(what: string, message: string): NvmfError {
  return new NvmfError('EINVALID_OPTION', `${what}: ${message}`, {});
}

/**
 * The options object `v` of `what` (a function's name, for messages): each of `keys` read
 * once into a plain record, so a getter neither throws later nor answers differently twice.
 * undefined is no options. Unknown keys are ignored. Each field's own type is the caller's
 * check.
 */
export function checkOptions<K extends string>(
  v: unknown,
  what: string,
  keys: readonly K[],
): Partial<Record<K, unknown>> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || isArray(v))
    throw invalidOption(what, `expected an object, got ${describe(v)}`);
  const out: Partial<Record<K, unknown>> = {};
  for (const k of keys) {
    let value: unknown;
    try {
      value = (v as Record<string, unknown>)[k];
    } catch {
      throw invalidOption(what, `option ${k} cannot be read`);
    }
    if (value !== undefined) out[k] = value;
  }
  return out;
}

/** Like checkOptions, for an argument that must be present. */
export function checkRecord<K extends string>(
  v: unknown,
  what: string,
  keys: readonly K[],
): Partial<Record<K, unknown>> {
  if (v === undefined) throw invalidOption(what, 'expected an object, got undefined');
  return checkOptions(v, what, keys);
}

function isArray(v: object): boolean {
  try {
    return Array.isArray(v);
  } catch {
    return true;
  }
}

export function checkOptionalBoolean(v: unknown, what: string, name: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw invalidOption(what, `option ${name} must be true or false, got ${describe(v)}`);
}

/** A finite number >= min (an integer when `integer`), or undefined. */
export function checkOptionalNumber(
  v: unknown,
  what: string,
  name: string,
  o: { min?: number; integer?: boolean } = {},
): number | undefined {
  if (v === undefined) return undefined;
  const min = o.min ?? 0;
  if (
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    v < min ||
    (o.integer === true && !Number.isInteger(v))
  ) {
    throw invalidOption(
      what,
      `option ${name} must be ${o.integer === true ? (min === 1 ? 'a positive integer' : `an integer >= ${min}`) : `a finite number >= ${min}`}, got ${describe(v)}`,
    );
  }
  return v;
}

export function checkOptionalFunction<F>(v: unknown, what: string, name: string): F | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function')
    throw invalidOption(what, `option ${name} must be a function, got ${describe(v)}`);
  return v as F;
}

export function checkOptionalString(v: unknown, what: string, name: string): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  throw invalidOption(what, `${name} must be a string, got ${describe(v)}`);
}

/**
 * The own enumerable [key, value] pairs of the object `v`, read once; a getter or proxy
 * trap that throws becomes EINVALID_OPTION.
 */
export function checkEntries(v: unknown, what: string): [string, unknown][] {
  if (typeof v !== 'object' || v === null || isArray(v))
    throw invalidOption(what, `expected an object, got ${describe(v)}`);
  try {
    return Object.entries(v);
  } catch {
    throw invalidOption(what, 'its properties cannot be read');
  }
}

export function checkString(v: unknown, what: string, name: string): string {
  if (typeof v !== 'string') throw invalidOption(what, `${name} must be a string, got ${describe(v)}`);
  return v;
}

/** A string, or undefined for undefined and null. */
export function checkOptionalText(v: unknown, what: string, name: string): string | undefined {
  return v === null ? undefined : checkOptionalString(v, what, name);
}

/** Roots given as an option (`roots.registry`, `roots.sysfs`, `roots.dev`): non-empty strings. */
export function checkRoots(
  v: unknown,
  what: string,
): { registry?: string; sysfs?: string; dev?: string; proc?: string } {
  const r = checkOptions(v, `${what} roots`, ['registry', 'sysfs', 'dev', 'proc']);
  const roots: { registry?: string; sysfs?: string; dev?: string; proc?: string } = {};
  for (const k of ['registry', 'sysfs', 'dev', 'proc'] as const) {
    const s = checkOptionalString(r[k], what, `roots.${k}`);
    if (s === '') throw invalidOption(what, `roots.${k} must not be empty`);
    if (s !== undefined) roots[k] = s;
  }
  return roots;
}
