/**
 * `nvmf-registry/sim`: the simulated kernel, for tests of code built on the library. Its
 * whole state lives in a directory (sysfs and dev trees, seqnum, udev queue), so separate
 * processes share one simulated host (`NVMF_KERNEL=sim:DIR` for the CLI and `openHost`).
 */

export {
  kernelFromEnv,
  SimKernel,
  type SimKernelOptions,
  type SimConfig,
  type SimInitOptions,
  type SimTargets,
  simInit,
  simNbft,
  simRoots,
  simUdevSettle,
} from './kernel/sim.js';
