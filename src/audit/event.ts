/**
 * What an audit record says. Every mutation and decision in the library, the CLI and the
 * udev helper becomes one of these, under the one identifier `nvmf-registry`. Sinks turn the
 * fields into journald fields (`NVMF_DEVICE`, `NVMF_OWNER`, ...), JSON lines, etc.
 */
export type AuditAction =
  | 'entry-created'
  | 'entry-removed'
  | 'claim'
  | 'disown'
  | 'owner-changed'
  | 'attr-set'
  | 'attr-unset'
  | 'gc-removed'
  | 'connect'
  | 'connect-failed'
  | 'disconnect'
  | 'disconnect-failed'
  | 'disconnect-all-disconnect'
  | 'disconnect-all-skip'
  | 'discover-skip'
  | 'connect-skip'
  | 'udev-removed'
  | 'udev-kept';

export interface AuditEvent {
  action: AuditAction;
  device?: string;
  owner?: string | null;
  prevOwner?: string | null;
  reason?: string;
  seqnum?: number;
  /** Who did it when not this process's command (e.g. `udev`, `gc`). */
  by?: string;
  error?: string;
  /** Free-form extra fields; sinks prefix them with `NVMF_` upper-cased. Never secrets. */
  extra?: Record<string, string | number | boolean | null>;
}

/** The narrow interface the library writes to; `record` is synchronous and never throws. */
export interface Auditor {
  record(event: AuditEvent): void;
}
