import { type ErrorCode, isNvmfError } from '../errors.js';

/** Process exit codes of `nvmf` (DESIGN §10). Scripts rely on them. */
export const EXIT = Object.freeze({
  OK: 0,
  /** An error, or the operator aborted a confirmation. */
  ERROR: 1,
  /** Bad command line: unknown option, bad value, conflicting flags. */
  USAGE: 2,
  /** Some of a multi-controller operation failed; the per-controller results say which. */
  PARTIAL: 3,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Input-validation codes are usage errors: the command line named a bad value and nothing
 * was touched. The same codes raised for invalid data found on disk (`details.onDisk`, an
 * owner file holding a newline, a junk stamp) are plain errors: the command line was fine.
 * Everything else that went wrong at run time is a plain error.
 */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'EUSAGE',
  'EINVALID_DEVICE',
  'EINVALID_ATTR',
  'EINVALID_OWNER',
  'EINVALID_VALUE',
  'EINVALID_OPTION',
  'ERESERVED_ATTR',
]);

export function exitCodeFor(e: unknown): ExitCode {
  if (isNvmfError(e)) {
    if (USAGE_CODES.has(e.code) && e.details['onDisk'] !== true) return EXIT.USAGE;
    if (e.code === 'EPARTIAL') return EXIT.PARTIAL;
  }
  return EXIT.ERROR;
}
