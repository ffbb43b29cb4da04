/**
 * The public API of nvmf-registry: the registry, the attach engine, the kernel adapters and
 * the audit interface. The CLI (src/cli) is not part of it and nothing here imports it.
 * Heavy optional parts (FFI, chokidar) stay behind their own lazy imports.
 */

export { defaultAuditor } from './audit/default.js';
export type { AuditAction, AuditEvent, Auditor } from './audit/event.js';
export * from './engine/index.js';
export { type ErrorCode, errnoOf, isNvmfError, NvmfError } from './errors.js';
export type {
  ConnectReply,
  ControllerAddress,
  ControllerInfo,
  Kernel,
  SubsystemType,
} from './kernel/port.js';
export { kernelFromEnv, SimKernel, simInit, simUdevSettle } from './kernel/sim.js';
export * from './registry/index.js';
export { DEFAULT_ROOTS, type Env, type Roots, rootsFromEnv, ueventSeqnumPath } from './roots.js';
