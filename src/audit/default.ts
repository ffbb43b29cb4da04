import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as AuditorModule from './auditor.js';
import type { AuditEvent, Auditor } from './event.js';

/**
 * The auditor the library uses when the caller passes none: journald if this host has a
 * journal socket (native protocol, `logger --journald` as fallback), JSON lines on stderr
 * otherwise, chosen on the first record (`NVMF_AUDIT_SINK`, `NVMF_JOURNAL_SOCKET` override).
 * One per process: every part of the process speaks with the same voice.
 *
 * This module imports nothing of the audit machinery: every registry user imports it, and
 * most (`nvmf registry list`) never record. The machinery is loaded on the first record,
 * synchronously (records are synchronous), with require() of the ES module.
 */
let shared: Auditor | null = null;

function loadAuditorModule(): typeof AuditorModule {
  return createRequire(import.meta.url)('./auditor.js') as typeof AuditorModule;
}

/**
 * The machinery could not be loaded (a Node without require() of ES modules, or a bundle that
 * left it out): the record still goes out, as one JSON line on stderr saying why.
 */
function fallbackAuditor(why: string): Auditor {
  return {
    record(event: AuditEvent): void {
      try {
        writeSync(2, `${JSON.stringify({ NVMF_AUDIT_FALLBACK: why, ...event })}\n`);
      } catch {
        // stderr closed: nowhere left to say it
      }
    },
  };
}

export function defaultAuditor(): Auditor {
  if (shared) return shared;
  let inner: Auditor | null = null;
  shared = {
    record(event: AuditEvent): void {
      if (inner === null) {
        try {
          const m = loadAuditorModule();
          inner = m.createAuditor({ sinks: m.sinkChain(m.sinkChainOptionsFromEnv(process.env)) });
        } catch (e) {
          inner = fallbackAuditor(`audit sinks unavailable: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      inner.record(event);
    },
  };
  return shared;
}
