/**
 * `nvmf-registry/plugin`: what a CLI plugin may use beside the package entry (src/index.ts).
 * The plugin contract (plugin.ts, context.ts, command.ts) and the CLI helpers the registry
 * commands share with the core (owner arguments, tables, the audit trail reader, the
 * Prometheus exporter, the watch timeline). A plugin imports nothing else of ours.
 */

export { auditTarget, sinkChainOptionsFromEnv } from '../audit/auditor.js';
export { formatAuditLogLine, readAuditFile, readAuditLog } from '../audit/journal-read.js';
export { formatPrometheus, writeFileAtomic } from '../watch/prometheus.js';
export { repeatWhileChanging } from '../watch/repeat.js';
export { requireRegistryRoot, untilSignal, waitForRegistryRoot } from '../watch/timeline.js';
export type { CommandModule, RegisterCommand } from './command.js';
export type { CliContext, KernelHandle, Writer } from './context.js';
export { escapeText, foldLine, renderTable } from './output.js';
export { ownerArg } from './owner-arg.js';
export { verdictJson, verdictOwner, verdictText, verdictWords } from '../registry/verdict.js';
export type {
  ConnectOperation,
  ConnectOutcome,
  CoreCommandName,
  DiscoveryControllerView,
  NvmfPlugin,
  PluginHost,
} from './plugin.js';
