import type { AttributeRecord } from '../core/expressions/index.js';
import type { HostState } from '../core/host-states.js';
import type { Template } from '../core/template/types.js';

/*
 * The scheduler's input and output. A snapshot is plain immutable data
 * gathered by the server (hosts with monitoring, clusters, datastores,
 * networks, pending VMs, VM groups, ACL decisions); `schedule()` never
 * mutates it and returns a plan the plan applier commits.
 *
 * Units follow OpenNebula: CPU in hundredths of a core (100 = one core),
 * memory in KB unless a name says MB.
 */

export interface SchedulerSnapshot {
  readonly hosts: readonly SnapshotHost[];
  readonly clusters?: readonly SnapshotCluster[];
  /** System datastores to choose from. Omitted: no datastore selection (placements get datastoreId -1). */
  readonly datastores?: readonly SnapshotDatastore[];
  /** Virtual networks for `NETWORK_MODE=auto` NICs. */
  readonly networks?: readonly SnapshotNetwork[];
  /** Pending VMs and VMs flagged for rescheduling. */
  readonly vms: readonly PendingVm[];
  readonly vmGroups?: readonly SnapshotVmGroup[];
  /** Precomputed ACL decisions. Omitted: everyone may use everything. */
  readonly acl?: SchedulerAcl;
}

export interface SnapshotCluster {
  readonly id: number;
  readonly name: string;
  /** CLUSTER_TEMPLATE: last in the attribute lookup (RESERVED_CPU, PRIORITY, PIN_POLICY, VMS_THREAD …). */
  readonly template?: AttributeRecord;
}

/** An absolute amount (CPU ×100, memory KB) or a percentage of the total such as `"10%"`; negative overcommits. */
export type ReservedAmount = number | string;

export interface SnapshotHost {
  readonly id: number;
  readonly name: string;
  /** Only MONITORED hosts receive VMs. */
  readonly state: HostState;
  readonly clusterId: number;
  /** TOTAL_CPU (100 per core) and TOTAL_MEM (KB). */
  readonly capacity: { readonly totalCpu: number; readonly totalMemKb: number };
  /**
   * RESERVED_CPU / RESERVED_MEM. When a field is absent it is read from the host
   * template, then the cluster template (OpenNebula's order).
   */
  readonly reserved?: { readonly cpu?: ReservedAmount; readonly mem?: ReservedAmount };
  /** Allocations of the VMs already on the host: CPU_USAGE (×100), MEM_USAGE (KB), RUNNING_VMS. */
  readonly usage: { readonly cpu: number; readonly memKb: number; readonly runningVms: number };
  /** Host TEMPLATE, including probe-reported attributes (HYPERVISOR, PIN_POLICY, VMS_THREAD, ISOLCPUS …). */
  readonly template?: AttributeRecord;
  /** MONITORING: FREE_CPU, USED_CPU (×100), FREE_MEMORY, USED_MEMORY (KB) and any probe attribute. */
  readonly monitoring?: AttributeRecord;
  /** Runtimes the host's agent reported working, e.g. `['crun', 'qemu']`. */
  readonly runtimes: readonly string[];
  /** Ids of the VMs on the host (CURRENT_VMS). */
  readonly vmIds?: readonly number[];
  /** NUMA topology as probed by the agent, with current pinning and hugepage use. */
  readonly numa?: readonly HostNumaNode[];
  /** Free MB per local (non-shared) system datastore on this host, by datastore id. */
  readonly datastoreFreeMb?: Readonly<Record<string, number>>;
}

export interface HostNumaNode {
  readonly id: number;
  readonly cores: readonly HostNumaCore[];
  readonly memory: { readonly totalKb: number; readonly usedKb: number };
  readonly hugepages?: readonly { readonly sizeKb: number; readonly total: number; readonly free: number }[];
  /** Node ids by distance, closest first (normally this node first). Default: this node, then the others by id. */
  readonly distance?: readonly number[];
}

export interface HostNumaCore {
  readonly id: number;
  readonly cpus: readonly HostNumaCpu[];
  /** A CORE-pinned VM owns the whole core. */
  readonly dedicated?: boolean;
}

export interface HostNumaCpu {
  readonly id: number;
  /** Ids of the VMs pinned to this hardware thread (empty or absent: free). */
  readonly vms?: readonly number[];
  /** Isolated from the scheduler (ISOLCPUS): never pinned to. */
  readonly isolated?: boolean;
}

export interface SnapshotDatastore {
  readonly id: number;
  readonly name: string;
  /** Only SYSTEM datastores hold running VMs. */
  readonly type: 'SYSTEM' | 'IMAGE' | 'FILE';
  readonly clusterIds: readonly number[];
  readonly freeMb: number;
  readonly totalMb?: number;
  /** Shared (default): one free figure for all hosts. Local: each host's own free space (`SnapshotHost.datastoreFreeMb`). */
  readonly shared?: boolean;
  /** Disabled datastores are skipped. Default true. */
  readonly enabled?: boolean;
  /** Template attributes for SCHED_DS_REQUIREMENTS/SCHED_DS_RANK (TM_MAD, PRIORITY …). */
  readonly template?: AttributeRecord;
}

export interface SnapshotNetwork {
  readonly id: number;
  readonly name: string;
  readonly clusterIds: readonly number[];
  readonly freeLeases: number;
  readonly usedLeases?: number;
  /** Template attributes for NIC SCHED_REQUIREMENTS/SCHED_RANK (VN_MAD, TRAFFIC_TYPE, PRIORITY …). */
  readonly template?: AttributeRecord;
}

export interface PendingVm {
  readonly id: number;
  readonly uid: number;
  readonly gid: number;
  /** CPU, VCPU, MEMORY, USER_PRIORITY, SCHED_*, TOPOLOGY, NUMA_NODE, NIC (NETWORK_MODE=auto), DIFFERENT_VNETS. */
  readonly template: Template;
  /** Overrides the template's USER_PRIORITY. */
  readonly userPriority?: number;
  /** A running VM to move to a better host: its current host is skipped and it keeps its datastore. */
  readonly resched?: boolean;
  /** Current host (rescheduling). */
  readonly hostId?: number;
  /** Current system datastore (rescheduling keeps it). */
  readonly datastoreId?: number;
  /** Runtime the VM needs (`crun`, `qemu` …); hosts must report it. */
  readonly runtime?: string;
  /** Clusters the VM may run in (AUTOMATIC_REQUIREMENTS from its images and networks). Omitted: any. */
  readonly clusterIds?: readonly number[];
  /** MB the VM needs on the system datastore (disks cloned or created there). */
  readonly systemDiskMb?: number;
  /** Membership in a VM group role (also taken from the group's role VM lists). */
  readonly vmGroup?: { readonly id: number; readonly role: string };
}

export type VmGroupPolicy = 'AFFINED' | 'ANTI_AFFINED' | 'NONE';

export interface SnapshotVmGroup {
  readonly id: number;
  readonly name: string;
  readonly roles: readonly SnapshotVmGroupRole[];
  /** Inter-role rules: each entry lists role names whose VMs share hosts. */
  readonly affined?: readonly (readonly string[])[];
  /** Inter-role rules: each entry lists role names whose VMs never share a host. */
  readonly antiAffined?: readonly (readonly string[])[];
}

export interface SnapshotVmGroupRole {
  readonly name: string;
  readonly policy?: VmGroupPolicy;
  /** Host ids the role's VMs must run on. */
  readonly hostAffined?: readonly number[];
  /** Host ids the role's VMs must not run on. */
  readonly hostAntiAffined?: readonly number[];
  /** Member VM ids, running and pending. */
  readonly vmIds?: readonly number[];
}

/** Object ids an owner may use, by uid or gid (`'*'` = all). uid 0 and gid 0 may use everything. */
export interface AccessList {
  readonly byUser?: Readonly<Record<string, readonly number[] | '*'>>;
  readonly byGroup?: Readonly<Record<string, readonly number[] | '*'>>;
}

/** ACL decisions as data: MANAGE on hosts, USE on datastores and networks. An omitted list allows all. */
export interface SchedulerAcl {
  readonly hosts?: AccessList;
  readonly datastores?: AccessList;
  readonly networks?: AccessList;
}

/** A host ranking policy (OpenNebula DEFAULT_SCHED): each is a rank expression. */
export type HostPolicy = 'packing' | 'striping' | 'load-aware' | 'fixed' | { readonly rank: string };
export type DatastorePolicy = 'packing' | 'striping' | 'fixed' | { readonly rank: string };
export type NetworkPolicy = 'packing' | 'striping' | 'fixed' | { readonly rank: string };

export interface SchedulerConfig {
  /**
   * Default host policy, or several whose normalised scores are summed.
   * Default `striping`. A VM's SCHED_RANK replaces it.
   */
  readonly hostPolicy?: HostPolicy | readonly HostPolicy[];
  /** Default `striping` (most free MB first). A VM's SCHED_DS_RANK replaces it. */
  readonly datastorePolicy?: DatastorePolicy;
  /** Default `striping` (most free leases first). A NIC's SCHED_RANK replaces it. */
  readonly networkPolicy?: NetworkPolicy;
  /** Most placements per call (OpenNebula MAX_DISPATCH, 30). Default unlimited. */
  readonly maxDispatch?: number;
  /** Most VMs placed on one host per call (OpenNebula MAX_HOST, 1). Default unlimited. */
  readonly maxHost?: number;
  /**
   * Most pending VMs considered per call, in priority order (OpenNebula MAX_VM, 5000); the rest
   * are left out of the plan (neither placed nor unplaced). Default all.
   */
  readonly maxVm?: number;
  /** System-datastore space per MB of memory (OpenNebula MEMORY_SYSTEM_DS_SCALE). Default 0. */
  readonly memorySystemDsScale?: number;
  /**
   * How the best host is found: `indexed` (default) keeps hosts sorted per
   * rank expression and stops at the first that passes every filter; `scan`
   * is the straightforward algorithm (filter every host, normalise, sum).
   * Both give the same plan.
   */
  readonly selection?: 'indexed' | 'scan';
}

export interface SchedulerPlan {
  readonly placements: Placement[];
  readonly unplaced: Unplaced[];
}

export interface Placement {
  readonly vmId: number;
  readonly hostId: number;
  /** System datastore; -1 when the snapshot has no datastores. */
  readonly datastoreId: number;
  /** `migrate` for a rescheduled VM. */
  readonly action: 'deploy' | 'migrate';
  /** Networks chosen for NETWORK_MODE=auto NICs (nicIndex counts the template's NICs from 0). */
  readonly nics: readonly NicPlacement[];
  readonly numa?: NumaPlacement;
}

export interface NicPlacement {
  readonly nicIndex: number;
  readonly networkId: number;
}

export interface NumaPlacement {
  readonly pinPolicy: 'NONE' | 'CORE' | 'THREAD' | 'SHARED';
  readonly sockets: number;
  readonly cores: number;
  readonly threads: number;
  /** One entry per virtual NUMA node, in order. */
  readonly nodes: readonly NumaNodePlacement[];
}

export interface NumaNodePlacement {
  /** Host NUMA node whose CPUs the virtual node runs on. */
  readonly nodeId: number;
  /** Host CPUs (hardware threads) for the node's vCPUs; for unpinned hugepage VMs, every usable CPU of the node. */
  readonly cpus: readonly number[];
  /** Host NUMA node holding the memory. */
  readonly memoryNodeId: number;
  readonly memoryKb: number;
  readonly totalCpus: number;
  readonly hugepages?: { readonly sizeKb: number; readonly pages: number };
}

export interface Unplaced {
  readonly vmId: number;
  /** SCHED_MESSAGE: why the VM stays pending. */
  readonly message: string;
  /** How many hosts each filter rejected (only filters that rejected some). */
  readonly rejections: Readonly<Partial<Record<RejectionReason, number>>>;
}

export type RejectionReason =
  | 'state'
  | 'current-host'
  | 'max-host'
  | 'cluster'
  | 'acl'
  | 'runtime'
  | 'cpu'
  | 'memory'
  | 'pin-policy'
  | 'requirements'
  | 'datastore'
  | 'datastore-requirements'
  | 'datastore-room'
  | 'network'
  | 'vm-group'
  | 'numa';
