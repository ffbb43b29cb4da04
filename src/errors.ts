/**
 * The one error type of the project. `code` is stable (scripts and tests match on it);
 * `message` names the bad value and says what to do. Secrets never go into either.
 */
export type ErrorCode =
  // input validation
  | 'EINVALID_DEVICE'
  | 'EINVALID_ATTR'
  | 'EINVALID_OWNER'
  | 'EINVALID_VALUE'
  | 'EINVALID_OPTION'
  | 'ERESERVED_ATTR'
  // registry state
  | 'ENOT_REGISTERED'
  | 'EOWNER_CONFLICT'
  | 'ESYMLINK'
  | 'ENOT_DIR'
  | 'ENOT_FILE'
  | 'ETOO_LARGE'
  | 'ELOCKED'
  | 'EROOT'
  | 'EIO'
  // kernel
  | 'EKERNEL'
  | 'ENO_CONTROLLER'
  | 'EDISCOVERY'
  | 'ETIMEDOUT'
  // firmware: an NBFT table that is truncated or corrupt
  | 'ENBFT'
  // CLI / policy
  | 'EUSAGE'
  | 'ECONFIG'
  | 'EABORTED'
  | 'EPARTIAL'
  // a disconnect refused because the controller's disks are mounted, swap or held (in-use.ts)
  | 'EIN_USE';

export class NvmfError extends Error {
  override readonly name = 'NvmfError';
  readonly code: ErrorCode;
  /** Structured context (device, attribute, errno, ...); never holds secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    // Whatever a caller passes, constructing the error that reports a problem never fails.
    super(typeof message === 'string' ? message : describe(message), safeCause(options));
    this.code = code;
    this.details = typeof details === 'object' && details !== null ? details : {};
  }
}

export function isNvmfError(e: unknown, code?: ErrorCode): e is NvmfError {
  try {
    return e instanceof NvmfError && (code === undefined || e.code === code);
  } catch {
    return false; // a proxy whose traps throw is not one
  }
}

/** The errno code of a Node system error (`ENOENT`, ...), or undefined. */
export function errnoOf(e: unknown): string | undefined {
  try {
    return codeProperty(e);
  } catch {
    return undefined; // a getter or proxy trap that throws: no errno to be had
  }
}

function codeProperty(e: unknown): string | undefined {
  if (
    typeof e === 'object' &&
    e !== null &&
    'code' in e &&
    typeof (e as { code: unknown }).code === 'string'
  ) {
    return (e as { code: string }).code;
  }
  return undefined;
}

/**
 * A short description of any value for an error message that runs no code of the value's
 * own (no toString, toJSON, getter or proxy trap), so describing a bad value never throws.
 */
export function describe(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return (
        JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)
          // JSON.stringify leaves C1 controls, line separators and bidi overrides raw; make them visible too.
          .replace(
            /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          )
          // a byte read from disk that is not UTF-8 (U+DC80-U+DCFF, src/text.ts) as the byte it was
          .replace(/(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])/g, '$1\\x$2')
      );
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v.toString()}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (v === null) return 'null';
      try {
        // A revoked proxy throws even here.
        return Array.isArray(v) ? 'an array' : 'an object';
      } catch {
        return 'an object';
      }
  }
}

function safeCause(options: unknown): { cause?: unknown } | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  try {
    return 'cause' in options ? { cause: (options as { cause: unknown }).cause } : undefined;
  } catch {
    return undefined;
  }
}
