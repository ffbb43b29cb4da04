export { DEFAULT_GC_GRACE_MS, type GcItem, type GcKind, type GcOptions, type GcReport } from './gc.js';
export {
  type ConnectIntent,
  type ConnectIntentRecord,
  type ConnectTarget,
  type ControllerLike,
  intentMatches,
  pidAlive,
} from './intents.js';
export { DEFAULT_LOCK_TIMEOUT_MS } from './lock.js';
export {
  ATTR_RE,
  checkAttr,
  checkDevice,
  checkOwner,
  checkValue,
  DEVICE_RE,
  isAttr,
  isDevice,
  isOwner,
  MAX_OWNER_BYTES,
  MAX_VALUE_BYTES,
  naturalCompare,
  ownerProblem,
  quote,
  RESERVED_ATTRS,
  valueProblem,
} from './names.js';
export { BOOT_ID_FILE, type ClaimOptions, type Entry, Registry, type RegistryOptions } from './registry.js';
