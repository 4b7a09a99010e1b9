/**
 * The pure scheduler: an immutable snapshot of hosts, datastores, networks,
 * VM groups and pending VMs in, a plan of placements (and SCHED_MESSAGEs for
 * the VMs that stay pending) out. No I/O. See docs/scheduler.md.
 */

export { checkVmExpressions, findExpressionErrors } from '../core/expressions/index.js';
export type { HostDynamics } from './host-table.js';
export { hostNameResolver } from './host-table.js';
export { maxCapacity, reservedAmount } from './reserved.js';
export { schedule } from './schedule.js';
export type { PinPolicy, VmTopologyRequest } from './topology.js';
export { parseVmTopology } from './topology.js';
export type {
  AccessList,
  DatastorePolicy,
  HostNumaCore,
  HostNumaCpu,
  HostNumaNode,
  HostPolicy,
  NetworkPolicy,
  NicPlacement,
  NumaNodePlacement,
  NumaPlacement,
  PendingVm,
  Placement,
  RejectionReason,
  ReservedAmount,
  SchedulerAcl,
  SchedulerConfig,
  SchedulerPlan,
  SchedulerSnapshot,
  SnapshotCluster,
  SnapshotDatastore,
  SnapshotHost,
  SnapshotNetwork,
  SnapshotVmGroup,
  SnapshotVmGroupRole,
  Unplaced,
  VmGroupPolicy,
} from './types.js';
