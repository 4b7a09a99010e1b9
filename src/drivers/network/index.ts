/** Network drivers: the contract, the drivers and the workload NIC wiring. */
export { BridgeDriver } from './bridge-driver.js';
export { defaultInterface, linkExists } from './ip-tools.js';
export * from './nft-firewall.js';
export * from './ovs-daemons.js';
export { OvsDriver } from './ovs-driver.js';
export * from './tap-firewall.js';
export { createTap } from './tap-nic.js';
export type * from './types.js';
export { VlanDriver } from './vlan-driver.js';
export { VxlanDriver, vxlanDevice } from './vxlan-driver.js';
export * from './workload-netns.js';
