/**
 * Runtime drivers: the contract, the drivers and the default image. The conformance kit
 * (./conformance.js) is imported by test files directly, so that node:test stays out of the agent.
 */
export { buildBusyboxRootfs, isStaticElf, packRootfs, unpackRootfs } from './busybox-rootfs.js';
export { type CgroupFixResult, ensureHybridCgroupFix } from './cgroup-fix.js';
export { CrunDriver, type CrunDriverOptions, createRuncDriver } from './crun-driver.js';
export { CommandError } from './exec.js';
export { MOCK_CAPABILITIES, MockDriver, type MockDriverOptions } from './mock-driver.js';
export { MockFaultError, type MockOp, MockRuntimeWorld } from './mock-world.js';
export type { OciFlavour } from './oci-cli.js';
export type * from './types.js';
