/**
 * The public API of nvmf-registry (the package entry): open a host, connect and disconnect
 * through the engine, own controllers in the registry, watch it. The simulated kernel is the
 * `nvmf-registry/sim` entry (src/sim.ts). The CLI (src/cli) is not part of it and nothing
 * here imports it. Heavy optional parts (FFI, chokidar) stay behind their own lazy imports.
 */

export { defaultAuditor } from './audit/default.js';
export type { AuditAction, AuditEvent, Auditor } from './audit/event.js';
export {
  type DisconnectAllHost,
  type DisconnectAllOutcome,
  type DisconnectAllResult,
  executeDisconnectAll,
  planFromHost,
} from './engine/disconnect.js';
export type {
  ConnectAllRequest,
  ConnectAllResult,
  DiscoverRequest,
  DiscoverResult,
} from './engine/discover.js';
export type { ConnectRequest, ConnectResult } from './engine/connect.js';
export { Engine, type EngineOptions } from './engine/engine.js';
export type { ConnectInput, ConnectOptions } from './engine/options.js';
export type { DisconnectAllPolicy, PlanItem } from './engine/plan.js';
export type { NbftConnectItem, NbftConnectResult } from './engine/nbft-connect.js';
export type { NbftTableRead } from './kernel/nbft.js';
export type { NbftTable } from './nbft/decode.js';
export type { InUseFact } from './engine/in-use.js';
export { type ErrorCode, errnoOf, isNvmfError, NvmfError } from './errors.js';
export { type Host, type OpenHostOptions, openHost } from './host.js';
export { DEFAULT_ETC_ROOT, type HostIdentity, hostIdentity } from './host-identity.js';
export { LinuxKernel, type LinuxKernelOptions } from './kernel/linux.js';
export type {
  ConnectReply,
  ControllerAddress,
  ControllerFilter,
  ControllerInfo,
  HostFacts,
  Kernel,
  SubsystemType,
} from './kernel/port.js';
export type { BlockFact, DiskFact, HostSnapshot, MountFact, SwapFact } from './kernel/block.js';
export { checkDevice, checkOwner, checkValue, checkWritableAttr } from './registry/names.js';
export type { GcReport, GcOptions } from './registry/gc.js';
export type { ConnectIntent, ConnectTarget } from './registry/intents.js';
export { type ClaimOptions, type Entry, Registry, type RegistryOptions } from './registry/registry.js';
export { BEING_WRITTEN_MS, type ControllerIdentity, type OwnershipVerdict } from './registry/verdict.js';
export { DEFAULT_ROOTS, type Env, type Roots, rootsFromEnv } from './roots.js';
export type { RegistryEvent } from './watch/registry-diff.js';
export { type RegistryWatcher, type RegistryWatchOptions, watchRegistry } from './watch/registry-watch.js';
