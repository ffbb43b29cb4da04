import { type ControllerIdentity, IDENTITY_FIELDS, type IdentityField, identityOf } from '../nvme/target.js';

export { type ControllerIdentity, IDENTITY_FIELDS, type IdentityField, identityOf };

/**
 * The ownership verdict (DESIGN §4a): what an entry says about who owns the live controller
 * of its name. Every consumer (list -v, registry list, the disconnect-all plan and its
 * re-check, gc, claim, connect reuse) asks ownershipVerdict, so no two of them can disagree.
 *
 * - `owned`: the owner file holds a name; the empty name ("\n", what libnvme's
 *   `registry update -V ""` writes) included, as upstream reads it.
 * - `unowned`: no entry, no owner file, or an old 0-byte owner file (libnvme reads 0 bytes
 *   as absent).
 * - `unknown`: the entry or its owner cannot be judged: unreadable (symlink, directory,
 *   EACCES, ...), junk (outside the owner grammar), or being written (the hand-edit rule).
 *   Never treated as unowned by a disconnect.
 * - `previous`: the entry records the identity of another controller than the live one of
 *   its name (a recycled instance whose old entry was not cleaned): treated as unowned.
 */
export type OwnershipVerdict =
  | { readonly kind: 'owned'; readonly owner: string }
  | { readonly kind: 'unowned' }
  | { readonly kind: 'unknown'; readonly reason: string }
  | { readonly kind: 'previous'; readonly reason: string };

/**
 * The hand-edit rule: a 0-byte owner file modified less than this long ago (or, clock skew,
 * in the future) is "being written" (`echo stas > owner` truncates before it writes), so its
 * owner is unknown; an older one is absent, as libnvme reads it.
 */
export const BEING_WRITTEN_MS = 10_000;

/** The private attribute that records an identity field (`ctrl_traddr`, ...). */
export const IDENTITY_ATTR_PREFIX = 'ctrl_';
export const identityAttr = (f: IdentityField): string => `${IDENTITY_ATTR_PREFIX}${f}`;
export const IDENTITY_ATTRS: ReadonlySet<string> = new Set(IDENTITY_FIELDS.map(identityAttr));

/**
 * The identity recorded in an entry's attributes, or null when it records none (an entry
 * written by libnvme or an earlier version): recorded means both `ctrl_transport` and
 * `ctrl_subsysnqn` are there.
 */
export function identityFromAttrs(attrs: Readonly<Record<string, string>>): ControllerIdentity | null {
  const transport = attrs[identityAttr('transport')];
  const subsysnqn = attrs[identityAttr('subsysnqn')];
  if (transport === undefined || subsysnqn === undefined) return null;
  const id: ControllerIdentity = { transport, subsysnqn };
  for (const f of IDENTITY_FIELDS) {
    const v = attrs[identityAttr(f)];
    if (v !== undefined) id[f] = v;
  }
  return id;
}

/**
 * How a recorded identity differs from the live one: "traddr 10.0.0.1, live 10.0.0.2"...,
 * or null when they agree. Both come from sysfs, which shows each field as the connect gave
 * it for the controller's whole life, so they are compared exactly, absent counting as empty.
 */
export function identityDifference(recorded: ControllerIdentity, live: ControllerIdentity): string | null {
  const diffs: string[] = [];
  for (const f of IDENTITY_FIELDS) {
    const a = recorded[f] ?? '';
    const b = live[f] ?? '';
    if (a !== b) diffs.push(`${f} ${a === '' ? '(none)' : a}, live ${b === '' ? '(none)' : b}`);
  }
  return diffs.length === 0 ? null : diffs.join('; ');
}

/** What the verdict needs of an entry (a registry Entry fits). */
export interface VerdictInput {
  /** The owner as read ('' = the empty name); null when there is none or it is not judged. */
  readonly owner: string | null;
  /** Set when the entry could not be read; `code` EINVALID_OWNER = junk in the owner file. */
  readonly error?: { readonly code?: string; readonly message: string } | undefined;
  /** The mtime (ms) of a 0-byte owner file, when the owner file is one. */
  readonly ownerEmptySince?: number | undefined;
  /** The controller identity the entry records; null or absent = none. */
  readonly identity?: ControllerIdentity | null | undefined;
}

/**
 * The verdict of `entry` (null: none) for the live controller of its name (`live`: its
 * identity; null when unknown or there is no live controller), at `nowMs`. Pure. The order
 * is fail-safe: what cannot be judged is unknown before an identity is compared, so a hand
 * edit on a recycled instance's entry is never read as unowned.
 */
export function ownershipVerdict(
  entry: VerdictInput | null | undefined,
  live: ControllerIdentity | null | undefined,
  nowMs: number,
): OwnershipVerdict {
  if (entry === null || entry === undefined) return { kind: 'unowned' };
  if (entry.error !== undefined) {
    const junk = entry.error.code === 'EINVALID_OWNER';
    return { kind: 'unknown', reason: `${junk ? 'junk' : 'unreadable'}: ${entry.error.message}` };
  }
  if (entry.ownerEmptySince !== undefined && entry.owner === null) {
    const age = nowMs - entry.ownerEmptySince;
    if (age < BEING_WRITTEN_MS)
      return {
        kind: 'unknown',
        reason: `being written: the owner file is empty and was modified ${age < 0 ? 'in the future' : `${Math.floor(age / 1000)} s ago`}`,
      };
  }
  const recorded = entry.identity ?? null;
  if (recorded !== null && live !== null && live !== undefined) {
    const diff = identityDifference(recorded, live);
    if (diff !== null) {
      const was = entry.owner === null ? 'unowned' : `owned by ${JSON.stringify(entry.owner)}`;
      return { kind: 'previous', reason: `entry of a previous controller (${was}): ${diff}` };
    }
  }
  if (entry.owner !== null) return { kind: 'owned', owner: entry.owner };
  return { kind: 'unowned' };
}

/** Whether a disconnect may treat the controller as unowned. */
export function countsAsUnowned(v: OwnershipVerdict): boolean {
  return v.kind === 'unowned' || v.kind === 'previous';
}

/** The owner a verdict stands for: the name when owned, null otherwise. */
export function verdictOwner(v: OwnershipVerdict): string | null {
  return v.kind === 'owned' ? v.owner : null;
}

/** A verdict (or its JSON) as a table shows it: the owner (`""` for the empty name), `-`, `?`, `(previous)`. */
export function verdictText(v: { readonly kind: string; readonly owner?: string }): string {
  if (v.kind === 'owned') return v.owner === '' || v.owner === undefined ? '""' : v.owner;
  if (v.kind === 'unknown') return '?';
  if (v.kind === 'previous') return '(previous)';
  return '-';
}

/** A verdict as the JSON outputs carry it (contract: kind, owner for owned, reason otherwise). */
export function verdictJson(v: OwnershipVerdict): { kind: string; owner?: string; reason?: string } {
  if (v.kind === 'owned') return { kind: 'owned', owner: v.owner };
  if (v.kind === 'unowned') return { kind: 'unowned' };
  return { kind: v.kind, reason: v.reason };
}

/** A verdict in words, for messages: `owned by "stas"`, `unowned`, `owner unknown (...)`. */
export function verdictWords(v: OwnershipVerdict): string {
  switch (v.kind) {
    case 'owned':
      return `owned by ${JSON.stringify(v.owner)}`;
    case 'unowned':
      return 'unowned';
    case 'unknown':
      return `owner unknown (${v.reason})`;
    case 'previous':
      return `unowned (${v.reason})`;
  }
}
