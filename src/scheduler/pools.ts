import { type AttributeRecord, AttributeTable, flattenRecord, type VMS_KEY } from '../core/expressions/index.js';
import type { SnapshotDatastore, SnapshotNetwork } from './types.js';

/*
 * System datastores and virtual networks as the scheduler sees them: an
 * attribute table for SCHED_DS_* / NIC SCHED_* expressions (lookup: the
 * object's template first, then its own fields ID, NAME, FREE_MB …, like
 * OpenNebula's /DATASTORE/TEMPLATE then /DATASTORE), live free space or free
 * leases charged as VMs are placed, and the objects of each cluster.
 */

function resolverFor(root: string): (name: string) => string | typeof VMS_KEY {
  return (name) => {
    let n = name.toUpperCase();
    if (n.startsWith('/')) n = n.slice(1);
    if (n.startsWith(root)) n = n.slice(root.length);
    if (n.startsWith('TEMPLATE/')) n = n.slice(9);
    return n;
  };
}

interface PooledObject {
  readonly id: number;
  readonly name: string;
  readonly clusterIds: readonly number[];
  readonly template?: AttributeRecord;
}

abstract class ObjectPool<T extends PooledObject> {
  readonly list: readonly T[];
  readonly ids: readonly number[];
  readonly table: AttributeTable;
  private readonly byCluster = new Map<number, Int32Array>();

  constructor(objects: readonly T[], root: string) {
    this.list = [...objects].sort((a, b) => a.id - b.id);
    this.ids = this.list.map((o) => o.id);
    this.table = new AttributeTable(this.list.length, resolverFor(root));
    const clusters = new Map<number, number[]>();
    this.list.forEach((o, i) => {
      const seen = new Set<string>();
      const put = (key: string, value: string | number | (string | number)[]): void => {
        if (seen.has(key)) return;
        seen.add(key);
        this.table.set(i, this.table.ensureSlot(key), value);
      };
      if (o.template !== undefined) for (const [k, v] of flattenRecord(o.template)) put(k, v);
      put('ID', o.id);
      put('NAME', o.name);
      put('CLUSTERS/ID', [...o.clusterIds]);
      this.ownFields(o, put);
      for (const c of o.clusterIds) {
        let members = clusters.get(c);
        if (members === undefined) {
          members = [];
          clusters.set(c, members);
        }
        members.push(i);
      }
    });
    for (const [c, members] of clusters) this.byCluster.set(c, Int32Array.from(members));
  }

  protected abstract ownFields(o: T, put: (key: string, value: string | number) => void): void;

  /** Indices of the objects in cluster `clusterId`, in id order. */
  inCluster(clusterId: number): Int32Array {
    return this.byCluster.get(clusterId) ?? EMPTY;
  }

  protected dynamicSlot(key: string): number {
    const slot = this.table.ensureSlot(key);
    this.table.markDynamic(slot);
    return slot;
  }
}

const EMPTY = new Int32Array(0);

export class DatastorePool extends ObjectPool<SnapshotDatastore> {
  /** Live FREE_MB of each datastore. */
  readonly free: Float64Array;
  readonly shared: Uint8Array;
  private readonly freeSlot: number;
  private readonly usedSlot: number;

  constructor(datastores: readonly SnapshotDatastore[]) {
    super(
      datastores.filter((d) => d.type === 'SYSTEM' && d.enabled !== false),
      'DATASTORE/',
    );
    this.free = Float64Array.from(this.list, (d) => d.freeMb);
    this.shared = Uint8Array.from(this.list, (d) => (d.shared === false ? 0 : 1));
    this.freeSlot = this.dynamicSlot('FREE_MB');
    this.usedSlot = this.dynamicSlot('USED_MB');
  }

  protected ownFields(d: SnapshotDatastore, put: (key: string, value: string | number) => void): void {
    put('FREE_MB', d.freeMb);
    if (d.totalMb !== undefined) {
      put('TOTAL_MB', d.totalMb);
      put('USED_MB', d.totalMb - d.freeMb);
    }
    put('TYPE', d.type);
    put('SHARED', d.shared === false ? 'NO' : 'YES');
  }

  /** Charges `mb` to a shared datastore. */
  charge(d: number, mb: number): void {
    this.free[d]! -= mb;
    this.table.setNumber(d, this.freeSlot, this.free[d]!);
    const used = this.table.floatColumn(this.usedSlot)[d]!;
    if (!Number.isNaN(used)) this.table.setNumber(d, this.usedSlot, used + mb);
  }
}

export class NetworkPool extends ObjectPool<SnapshotNetwork> {
  /** Live free leases of each network. */
  readonly free: Float64Array;
  private readonly freeSlot: number;
  private readonly usedSlot: number;

  constructor(networks: readonly SnapshotNetwork[]) {
    super(networks, 'VNET/');
    this.free = Float64Array.from(this.list, (n) => n.freeLeases);
    this.freeSlot = this.dynamicSlot('FREE_LEASES');
    this.usedSlot = this.dynamicSlot('USED_LEASES');
  }

  protected ownFields(n: SnapshotNetwork, put: (key: string, value: string | number) => void): void {
    put('FREE_LEASES', n.freeLeases);
    put('USED_LEASES', n.usedLeases ?? 0);
  }

  /** Takes one lease from network `i`. */
  charge(i: number): void {
    this.free[i]! -= 1;
    this.table.setNumber(i, this.freeSlot, this.free[i]!);
    const used = this.table.floatColumn(this.usedSlot)[i]!;
    this.table.setNumber(i, this.usedSlot, (Number.isNaN(used) ? 0 : used) + 1);
  }
}
