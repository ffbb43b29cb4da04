import { NvmfError } from '../errors.js';
import { checkOwner, quote } from '../registry/names.js';

/**
 * commander's argument parser for every owner-valued option (`--owner`, `--expect`), so a bad
 * owner is a usage error (exit 2) while the command line is parsed, before anything is read
 * or changed. Synchronous by commander's contract, hence the static import of the (tiny,
 * dependency-free) name grammar.
 *
 * commander gives a required option-argument whatever word follows, so `--owner --yes` would
 * make "--yes" the owner and silently drop the confirmation flag. A value starting with '-' is
 * therefore refused: on the command line an owner cannot start with '-' (the registry itself
 * allows it; use the library for such a name).
 */
export function ownerArg(flag: string, o: { allowEmpty?: boolean } = {}): (value: string) => string {
  return (value: string): string => {
    if (value.startsWith('-')) {
      throw new NvmfError(
        'EUSAGE',
        `${flag} needs an owner name but got ${quote(value)}, which looks like an option; write ${flag} NAME (on the command line an owner cannot start with '-')`,
        { flag, value },
      );
    }
    if (value === '') {
      if (o.allowEmpty) return value;
      throw new NvmfError('EUSAGE', `${flag} needs an owner name, got an empty one; write ${flag} NAME`, {
        flag,
      });
    }
    return checkOwner(value);
  };
}
