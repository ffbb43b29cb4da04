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
  // CLI / policy
  | 'EUSAGE'
  | 'ECONFIG'
  | 'EABORTED'
  | 'EPARTIAL';

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
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

export function isNvmfError(e: unknown, code?: ErrorCode): e is NvmfError {
  return e instanceof NvmfError && (code === undefined || e.code === code);
}

/** The errno code of a Node system error (`ENOENT`, ...), or undefined. */
export function errnoOf(e: unknown): string | undefined {
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
