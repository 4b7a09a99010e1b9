export * from './address-range.js';
export * from './addresses.js';
export * from './lease-allocator.js';
export * from './nic-context.js';
export * from './security-rules.js';
