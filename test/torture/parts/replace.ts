/**
 * DESIGN §4 race 5 (replace) for as long as asked: one process replaces an entry with
 * Registry.create() over and over while this one reads it with read() and list(), which take
 * no lock. Invariant: the entry is never absent nor partial. A short control with the plain
 * two-rename replacement must show absences, proving the reader does meet the window.
 */
import { replaceAtomic } from '../replace-atomic.js';
import { type Part, Violations } from '../part.js';

export const replace: Part = {
  name: 'replace',
  about: 'lock-less reader against a create() replace loop in another process; plain two-rename control',
  async run(deadline, log) {
    const v = new Violations();
    const total = Math.max(2, (deadline - Date.now()) / 1000);
    const control = await replaceAtomic({
      reads: Infinity,
      seconds: Math.min(10, total / 5),
      replacer: 'plain',
    });
    log(`control (two renames): ${control.absent} absent in ${control.reads} reads`);
    if (control.absent === 0)
      v.add(
        `the two-rename control never showed the entry absent in ${control.reads} reads: the reader missed the window`,
      );
    const ours = await replaceAtomic({
      reads: Infinity,
      seconds: Math.max(1, (deadline - Date.now()) / 1000),
      replacer: 'create',
    });
    if (ours.absent > 0 || ours.partial > 0)
      v.add(
        `create(): the entry was absent in ${ours.absent} and partial in ${ours.partial} of ${ours.reads} reads`,
      );
    return {
      counts: {
        reads: ours.reads,
        replaces: ours.replaces,
        absent: ours.absent,
        partial: ours.partial,
        'read errors (retries exhausted)': ours.errors,
        'control reads': control.reads,
        'control absent': control.absent,
      },
      violations: v.result(),
    };
  },
};
