/**
 * What changed about one registry entry between two observed states. Pure: the watcher
 * feeds it the last emitted state and a fresh read.
 */

/** An observed entry: absent (`null`) or present with its owner (`null` = unowned). */
export type EntryState = { owner: string | null } | null;

export type RegistryEventType = 'created' | 'claimed' | 'released' | 'owner-changed' | 'removed';

export interface RegistryEvent {
  type: RegistryEventType;
  device: string;
  /** Owner after the change (`null` = unowned or entry gone). */
  owner: string | null;
  /** Owner before the change (`null` = unowned or no entry). */
  prevOwner: string | null;
  /** ISO 8601 time the watcher observed the change. */
  time: string;
  /** `claimed` only: the entry appeared already owned (a connect with an owner). */
  created?: boolean;
}

/**
 * One event per observed transition, or null when nothing that matters changed:
 * absent -> unowned `created`; absent -> owned `claimed` (created: true); unowned -> owned
 * `claimed`; owned -> unowned `released`; X -> Y `owner-changed`; present -> absent `removed`.
 */
export function diffEntry(
  device: string,
  prev: EntryState,
  next: EntryState,
  time: string,
): RegistryEvent | null {
  if (prev === null && next === null) return null;
  if (prev === null && next !== null) {
    return next.owner === null
      ? { type: 'created', device, owner: null, prevOwner: null, time }
      : { type: 'claimed', device, owner: next.owner, prevOwner: null, time, created: true };
  }
  if (prev !== null && next === null)
    return { type: 'removed', device, owner: null, prevOwner: prev.owner, time };
  const before = prev!.owner;
  const after = next!.owner;
  if (before === after) return null;
  if (before === null) return { type: 'claimed', device, owner: after, prevOwner: null, time };
  if (after === null) return { type: 'released', device, owner: null, prevOwner: before, time };
  return { type: 'owner-changed', device, owner: after, prevOwner: before, time };
}
