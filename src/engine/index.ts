export { type ConnectRequest, type ConnectResult, connect, waitReady } from './connect.js';
export { defaultSleep, type EngineContext } from './context.js';
export {
  DEFAULT_DISCONNECT_CONCURRENCY,
  type DisconnectAllOptions,
  type DisconnectAllResult,
  type DisconnectAllSnapshot,
  disconnect,
  disconnectAll,
  type ExecuteDeps,
  executeDisconnectAll,
  inUseOf,
  planFromHost,
  snapshotForDisconnectAll,
} from './disconnect.js';
export { applyInUse, describeInUse, type InUseFact, inUseFacts, inUseReason } from './in-use.js';
export {
  type ConnectAllItem,
  type ConnectAllRequest,
  type ConnectAllResult,
  connectAll,
  type DiscoveredEntry,
  type DiscoverRequest,
  type DiscoverResult,
  type DiscoverSkip,
  discover,
} from './discover.js';
export {
  ADRFAM,
  DISCOVERY_LOG_ENTRY_SIZE,
  DISCOVERY_LOG_HEADER_SIZE,
  DISCOVERY_LOG_ID,
  type DiscoveryLog,
  type DiscoveryLogEntry,
  decodeDiscoveryLog,
  discoveryEntry,
  encodeDiscoveryLog,
  SUBTYPE,
  TRTYPE,
  trtypeName,
  trtypeOf,
} from '../nvme/discovery-log.js';
export { Engine, type EngineOptions } from './engine.js';
export {
  buildOptionString,
  type ConnectInput,
  type ConnectOptions,
  DISCOVERY_NQN,
  FALLBACK_SUPPORTED_OPTIONS,
  type KernelOptionString,
  nqnProblem,
  OPTION_NAMES,
  type OptionName,
  parseConnectOptions,
  parseOptionString,
  parseSupportedOptions,
  redactOptionString,
  redactOptions,
  type TargetIdentity,
  TRANSPORTS,
  type Transport,
  targetIdentity,
  targetKey,
  targetMatches,
} from './options.js';
export {
  checkPolicy,
  type DisconnectAllPolicy,
  type PlanEntry,
  type PlanItem,
  planDisconnectAll,
} from './plan.js';
export { mapPool, type PoolResult } from './pool.js';
