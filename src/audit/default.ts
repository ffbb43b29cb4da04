import { createAuditor, sinkChain, sinkChainOptionsFromEnv } from './auditor.js';
import type { Auditor } from './event.js';

/**
 * The auditor of this process, as the environment configures it (`NVMF_AUDIT_SINK`,
 * `NVMF_AUDIT_FILE`, `NVMF_JOURNAL_SOCKET`; see auditTarget()): journald where it runs, else
 * the JSON-lines file. One per process, so every part of it speaks with the same voice. This
 * is what the CLI hands the registry and the engine; a library user passes it (or an auditor
 * of their own) to `Registry.open` and `new Engine`.
 */
let shared: Auditor | null = null;

export function defaultAuditor(): Auditor {
  shared ??= createAuditor({ sinks: sinkChain(sinkChainOptionsFromEnv(process.env)) });
  return shared;
}
