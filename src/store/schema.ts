import type { ColumnType, Generated } from 'kysely';

/** Columns every pooled object table has (one table per object kind). */
export interface ObjectTable {
  id: number;
  name: string;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  perms: number;
  state: number;
  lcm_state: number;
  /** Canonical template, JSON text. */
  template: string;
  /** Kind-specific spec/status, JSON text. */
  body: string;
  revision: number;
  created_at: number;
  updated_at: number;
}

export interface VmTable extends ObjectTable {
  host_id: number | null;
  /** 1 when core/vm-body.ts says the controller has work for the VM (migration 008). */
  needs_work: number;
  /** 1 when the VM has scheduled actions still to run (core/vm-body.ts; migration 009). */
  sched_pending: number;
}

export interface PoolControlTable {
  kind: string;
  last_oid: number;
}

export interface TokenTable {
  token_hash: string;
  uid: number;
  created_at: number;
  expires_at: number;
}

/** One leased address of a virtual network (migration 004-networks). */
export interface VnetLeaseTable {
  vnet_id: number;
  ar_id: number;
  idx: number;
  mac: string;
  ip: string | null;
  ip6: string | null;
  /** 'vm' (a NIC holds it), 'hold' (kept out of use), 'reserved' (carved into another network). */
  kind: string;
  vm_id: number | null;
  nic_id: number | null;
  owner_vnet_id: number | null;
  created_at: number;
}

export interface MigrationMetaTable {
  name: string;
  applied_at: ColumnType<number, number, never>;
  seq: Generated<number>;
}

export interface HostMonitoringTable {
  host_id: number;
  ts: number;
  kind: string;
  data: string;
}

export interface VmMonitoringTable {
  vm_id: number;
  host_id: number;
  ts: number;
  data: string;
}

export interface Database {
  users: ObjectTable;
  groups: ObjectTable;
  clusters: ObjectTable;
  hosts: ObjectTable;
  datastores: ObjectTable;
  images: ObjectTable;
  vnets: ObjectTable;
  templates: ObjectTable;
  vms: VmTable;
  vmgroups: ObjectTable;
  secgroups: ObjectTable;
  pool_control: PoolControlTable;
  tokens: TokenTable;
  vnet_leases: VnetLeaseTable;
  host_monitoring: HostMonitoringTable;
  vm_monitoring: VmMonitoringTable;
}

export type ObjectTableName = Exclude<
  keyof Database,
  'pool_control' | 'tokens' | 'vnet_leases' | 'host_monitoring' | 'vm_monitoring'
>;
