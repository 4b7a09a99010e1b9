import type { HostFacts } from './agent-protocol.js';
import type { AddressRange } from './ipam/address-range.js';
import type { DatastoreUsage, HostUsage } from './monitoring.js';
import type { SchedAction } from './sched-actions.js';
import type { Template } from './template/types.js';
import type { VmGroupBody } from './vm-groups.js';

/**
 * The pooled object kinds of ONEedge, named as OpenNebula names its pools.
 * Every kind shares one row shape ({@link PoolObject}); kind-specific data
 * lives in `body` (see the `*Body` types below), whose snake_case keys are
 * exactly the fields the REST API shows.
 */
export const OBJECT_KINDS = [
  'user',
  'group',
  'cluster',
  'host',
  'datastore',
  'image',
  'vnet',
  'template',
  'vm',
  'vmgroup',
  'secgroup',
] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Names unique across the whole pool (else unique per owner, like OpenNebula). */
export const GLOBAL_NAME_KINDS: ReadonlySet<ObjectKind> = new Set(['user', 'group', 'cluster', 'host', 'datastore']);

/** Kinds whose names need not be unique at all. */
export const NON_UNIQUE_NAME_KINDS: ReadonlySet<ObjectKind> = new Set(['vm']);

export interface UserBody {
  /** Secondary groups; the primary group is the row's gid. */
  groups: number[];
  enabled: boolean;
  auth_driver: 'core';
  /** scrypt hash, `scrypt$N$r$p$salt$hash` (base64). Never leaves the server. */
  password_hash: string;
}

export type GroupBody = Record<string, never>;
export type ClusterBody = Record<string, never>;

export interface HostBody {
  cluster_id: number;
  im_mad: string;
  vm_mad: string;
  /** SHA-256 of the agent's credential secret; null until the host joins (or after revoke). Never shown. */
  credential_hash: string | null;
  /** SHA-256 of the one-time join token, and when it expires (ms). Never shown. */
  join_token_hash: string | null;
  join_token_expires: number;
  /** The last agent message sequence number applied: anything at or below it is a replay. */
  last_agent_seq: number;
  /** What the agent reported about the machine on its last hello. */
  facts: HostFacts | null;
  /** ms since the epoch of the last message from the agent; 0 = never. */
  last_seen: number;
  /** Whether an agent session is open right now (as of the last change). */
  connected: boolean;
  /** The latest pushed monitoring (usage and system datastore), folded in by the monitor controller. */
  monitoring?: { ts: number; usage: HostUsage | null; datastore: DatastoreUsage | null } | null;
  /** Workloads on the host that ONEedge does not know (OpenNebula's wild VMs). */
  wilds?: { deploy_id: string; runtime: string }[];
  /** Workloads on the host named after a VM that is not placed on it (zombies). */
  zombies?: { deploy_id: string; runtime: string; vm_id: number }[];
}

export type DatastoreType = 'IMAGE' | 'SYSTEM' | 'FILE';
export interface DatastoreBody {
  type: DatastoreType;
  ds_mad: string;
  tm_mad: string;
  cluster_ids: number[];
  /** Capacity of the filesystem holding the datastore (statfs), MB; refreshed by the front-end. */
  total_mb?: number;
  free_mb?: number;
  used_mb?: number;
}

export const IMAGE_TYPES = ['OS', 'CDROM', 'DATABLOCK', 'KERNEL', 'RAMDISK', 'CONTEXT'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];
export interface ImageBody {
  type: ImageType;
  datastore_id: number;
  persistent: boolean;
  format: string;
  size_mb: number;
  /** Where the image's file lives on the front-end (its datastore), empty for none. */
  source: string;
  /** SHA-256 of the image file, hex; agents verify it after download. */
  sha256: string | null;
  running_vms: number[];
  /** Exact content size in bytes (size_mb is rounded up). */
  size_bytes?: number;
  /** Why the image is in ERROR (import/upload failure), else null. */
  error?: string | null;
  /** A long operation on the image (import, upload, mkfs, clone, copy-back) and how far it got. */
  operation?: ImageOperation | null;
  /** The image this one was cloned from, if any. */
  cloning_id?: number | null;
  /** Disk save-as: the VM disk this image is being (or was) made from. */
  saved_from?: { vm_id: number; disk_id: number } | null;
}

export interface ImageOperation {
  kind: 'import' | 'upload' | 'mkfs' | 'clone' | 'copy-back' | 'save-as';
  done_bytes: number;
  /** 0 when unknown. */
  total_bytes: number;
  started_at: number;
}

export interface VnetBody {
  cluster_ids: number[];
  vn_mad: string;
  bridge: string;
  /** VLAN tag (ovswitch, 802.1Q) or VXLAN VNI (vxlan); null for plain bridges. */
  vlan_id?: number | null;
  /** The address ranges (OpenNebula's AR_POOL), see core/ipam. */
  ar_pool?: AddressRange[];
  next_ar_id?: number;
  /** How many leases the network holds (the lease table has them). */
  used_leases?: number;
  /** A reservation's parent network. */
  parent_network_id?: number | null;
}

/** One security-group rule as stored (snake_case: shown by the API as is). */
export interface SecurityRuleBody {
  rule_type: 'inbound' | 'outbound';
  /** ALL, TCP, UDP, ICMP, ICMPV6. */
  protocol: string;
  /** Port ranges ("22", "8000:8100"), empty = every port. */
  ports: string[];
  /** Address ranges ("10.0.0.0/24", "10.0.0.1-10.0.0.9"), empty = anywhere (unless network_id). */
  addresses: string[];
  /** Rule applies to the addresses of this virtual network. */
  network_id?: number;
  icmp_type?: number;
}

export interface SecgroupBody {
  rules: SecurityRuleBody[];
}

export type TemplateBody = Record<string, never>;

export interface VmHistoryRecord {
  seq: number;
  host_id: number;
  host_name: string;
  ds_id: number;
  action: string;
  stime: number;
  etime: number;
}

/** Where a pinned (TOPOLOGY/PIN_POLICY) VM's vCPUs and memory were placed on its host. */
export interface VmNumaPlacement {
  pin_policy: string;
  nodes: {
    node_id: number;
    cpus: number[];
    memory_node_id: number;
    memory_kb: number;
    /** Hugepages reserved on memory_node_id for this virtual node. */
    hugepages?: { size_kb: number; pages: number };
  }[];
}

export interface VmBody {
  template_id: number | null;
  host_id: number | null;
  host_name: string | null;
  /** The host operation the lifecycle controller must run in the current transient state. */
  pending_op: string | null;
  /** The last recording action (the state machine's VmContext.lastAction), e.g. deploy after stop resumes. */
  last_action: string | null;
  resched: boolean;
  sched_message: string;
  history: VmHistoryRecord[];
  /** The scheduler's NUMA placement for pinned VMs, while the VM holds its host. */
  numa?: VmNumaPlacement | null;
  /**
   * Hosts a migration left behind that still hold the VM's stopped workload and files; the
   * lifecycle controller sends each a cleanup and drops it from the list when done.
   */
  cleanup_hosts?: number[];
  /** Scheduled actions (SCHED_ACTION), with their next time and last outcome. */
  sched_actions?: SchedAction[];
  /** The NIC or disk hot-plug in flight (the NIC/DISK carries ATTACH=YES meanwhile), see core/hotplug.ts. */
  hotplug?: { kind: 'nic-attach' | 'nic-detach' | 'disk-attach' | 'disk-detach'; id: number } | null;
  /** The last host-side error (driver message), shown like OpenNebula's ERROR attribute. */
  error: string | null;
  /** Attributes a guest or user sets after creation (OpenNebula's USER_TEMPLATE). */
  user_template: Template;
  stime: number;
  etime: number;
}

export interface KindBodies {
  user: UserBody;
  group: GroupBody;
  cluster: ClusterBody;
  host: HostBody;
  datastore: DatastoreBody;
  image: ImageBody;
  vnet: VnetBody;
  template: TemplateBody;
  vm: VmBody;
  vmgroup: VmGroupBody;
  secgroup: SecgroupBody;
}

/** One stored object, as the store hands it out. */
export interface PoolObject<K extends ObjectKind = ObjectKind> {
  kind: K;
  id: number;
  name: string;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  perms: number;
  /** Numeric state; for VMs OpenNebula's STATE, for hosts/images their state. */
  state: number;
  /** VM LCM_STATE; 0 for every other kind. */
  lcmState: number;
  template: Template;
  body: KindBodies[K];
  revision: number;
  createdAt: number;
  updatedAt: number;
}

/** The fields a create call supplies; the store fills id, revision and timestamps. */
export type NewPoolObject<K extends ObjectKind = ObjectKind> = Omit<
  PoolObject<K>,
  'id' | 'revision' | 'createdAt' | 'updatedAt' | 'kind'
> & { id?: number };

export const IMAGE_STATES = {
  INIT: 0,
  READY: 1,
  USED: 2,
  DISABLED: 3,
  LOCKED: 4,
  ERROR: 5,
  CLONE: 6,
  DELETE: 7,
  USED_PERS: 8,
  LOCKED_USED: 9,
  LOCKED_USED_PERS: 10,
} as const;
