import type { ControllerInfo } from '../kernel/port.js';
import { bootEntriesServedBy, type NbftBootEntry, type NbftBootFacts } from '../nbft/boot.js';
import type { DisconnectAllPolicy, PlanItem } from './plan.js';

/**
 * The boot-critical pass of the disconnect-all plan (DESIGN §5, the row after "PCIe/local"
 * and "transport not selected", before "in use" and the ownership rows): a controller that
 * serves a subsystem entry of the firmware's NBFT is the boot device, skipped in every mode
 * whatever its owner. Only `ignoreBootCritical` (CLI `--ignore-boot-critical`) overrides it;
 * `--force` and `--ignore-in-use` do not.
 *
 * Fail safe: when an NBFT table exists but cannot be read or decoded, nobody can tell which
 * controller is the boot device, so every fabrics controller the plan would touch is skipped
 * with a reason naming the table and its error (the same override applies).
 */

/** The plan reason of a boot-critical skip (a fixed contract point, DESIGN §10). */
export const BOOT_REASON = 'boot device (NBFT)';

/** Why `c` is boot-critical by `facts`: the entries it serves, or the unreadable tables; null when it is not. */
export type BootVerdict =
  { kind: 'boot'; entries: NbftBootEntry[] } | { kind: 'unknown'; errors: NbftBootFacts['errors'] } | null;

export function bootVerdict(facts: NbftBootFacts, c: ControllerInfo): BootVerdict {
  if (!c.fabrics) return null;
  const entries = bootEntriesServedBy(facts, c);
  if (entries.length > 0) return { kind: 'boot', entries };
  if (facts.errors.length > 0) return { kind: 'unknown', errors: facts.errors };
  return null;
}

/** The skip reason of an `unknown` verdict, naming each table and its error. */
export function unreadableReason(errors: NbftBootFacts['errors']): string {
  return `boot table unreadable, the boot device cannot be told (${errors.map((e) => e.message).join('; ')})`;
}

/**
 * The plan with the boot-critical row applied: pure, a new array. Rows that come before it
 * (not fabrics, transport not selected) keep their items; every other item of a boot-critical
 * controller becomes a skip with BOOT_REASON, whatever a later row decided. Apply it after
 * the later passes (in use, ownership) so that it wins over them, as the table says.
 */
export function applyBootCritical(
  plan: readonly PlanItem[],
  facts: NbftBootFacts,
  policy: Pick<DisconnectAllPolicy, 'transports' | 'ignoreBootCritical'>,
): PlanItem[] {
  const transports = policy.transports && policy.transports.length > 0 ? new Set(policy.transports) : null;
  return plan.map((item): PlanItem => {
    const c = item.controller;
    if (!c.fabrics || (transports !== null && !transports.has(c.transport))) return item;
    const verdict = bootVerdict(facts, c);
    if (verdict === null) return item;
    if (policy.ignoreBootCritical === true) {
      const what = verdict.kind === 'boot' ? BOOT_REASON : 'boot table unreadable';
      return { ...item, reason: `--ignore-boot-critical (${what}): ${item.reason}` };
    }
    return {
      ...item,
      action: 'skip',
      reason: verdict.kind === 'boot' ? BOOT_REASON : unreadableReason(verdict.errors),
    };
  });
}
