import type { AuditEvent, Auditor } from './event.js';

/**
 * The auditor the library uses when the caller passes none. The audit module replaces the
 * body with its journald-first sink chain; the contract is only this function's signature.
 * Until then records go to stderr as JSON lines, so none is lost.
 */
export function defaultAuditor(): Auditor {
  return {
    record(event: AuditEvent): void {
      try {
        process.stderr.write(`${JSON.stringify({ SYSLOG_IDENTIFIER: 'nvmf-registry', pid: process.pid, ...event })}\n`);
      } catch {
        // stderr closed: nothing left to tell
      }
    },
  };
}
