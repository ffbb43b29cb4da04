import { createAuditor, sinkChain, sinkChainOptionsFromEnv } from './auditor.js';
import type { AuditEvent, Auditor } from './event.js';

/**
 * The auditor the library uses when the caller passes none: journald if this host has a
 * journal socket (native protocol, `logger --journald` as fallback), JSON lines on stderr
 * otherwise, chosen on the first record (`NVMF_AUDIT_SINK`, `NVMF_JOURNAL_SOCKET` override).
 * One per process: every part of the process speaks with the same voice.
 */
let shared: Auditor | null = null;

export function defaultAuditor(): Auditor {
  if (shared) return shared;
  let inner: Auditor | null = null;
  shared = {
    record(event: AuditEvent): void {
      inner ??= createAuditor({ sinks: sinkChain(sinkChainOptionsFromEnv(process.env)) });
      inner.record(event);
    },
  };
  return shared;
}
