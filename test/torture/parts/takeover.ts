/**
 * DESIGN §4 race 6 for as long as asked: a lock holder SIGKILLed while holding, three
 * contenders racing for the lock (library only, and library against the udev helper's own
 * take_lock). Invariant: one winner at a time, no contender error, no lock file left.
 */
import { runLockTakeover, type TakeoverCounts } from '../lock-takeover.js';
import { type Part, Violations } from '../part.js';

export const takeover: Part = {
  name: 'takeover',
  about: 'lock holder killed, three contenders (library; library and the udev helper) race for it',
  async run(deadline, log) {
    const v = new Violations();
    const sum = { lib: 0, mixed: 0, doubleWins: 0, errors: 0, leftoverLocks: 0 };
    for (let i = 0; Date.now() < deadline; i++) {
      const mode = i % 2 === 0 ? 'lib' : 'mixed';
      const c: TakeoverCounts = await runLockTakeover({ count: 200, mode, deadline });
      sum[mode] += c.takeovers;
      sum.doubleWins += c.doubleWins;
      sum.errors += c.errors;
      sum.leftoverLocks += c.leftoverLocks;
      if (c.doubleWins > 0) v.add(`${mode}: ${c.doubleWins} double wins in ${c.takeovers} takeovers`);
      if (c.errors > 0) v.add(`${mode}: ${c.errors} contender errors, e.g. ${c.errorSamples?.[0] ?? '?'}`);
      if (c.leftoverLocks > 0) v.add(`${mode}: ${c.leftoverLocks} rounds left a lock file`);
      log(`${sum.lib + sum.mixed} takeovers`);
    }
    return {
      counts: {
        'takeovers (library contenders)': sum.lib,
        'takeovers (library and helper contenders)': sum.mixed,
        'double wins': sum.doubleWins,
        'contender errors': sum.errors,
        'lock files left': sum.leftoverLocks,
      },
      violations: v.result(),
    };
  },
};
