import { checkDevice } from '../../src/index.js';

/** `nvme3` from `nvme3` or `/dev/nvme3` (operators paste device paths); validated. */
export function deviceArg(arg: string): string {
  return checkDevice(arg.startsWith('/dev/') ? arg.slice('/dev/'.length) : arg);
}
