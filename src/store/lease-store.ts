import type { Kysely, Transaction } from 'kysely';
import type { Database, VnetLeaseTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export type LeaseKind = 'vm' | 'hold' | 'reserved';
export type LeaseRow = VnetLeaseTable;

/**
 * The leases of virtual networks (table vnet_leases). Writers call it with
 * the open transaction of the change the lease belongs to (a VM's creation, a
 * NIC attach, a hold), so a lease never outlives a rolled-back change.
 */
export class LeaseStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every lease of a network, ordered by range and index. */
  list(vnetId: number, db: Db = this.db): Promise<LeaseRow[]> {
    return db
      .selectFrom('vnet_leases')
      .selectAll()
      .where('vnet_id', '=', vnetId)
      .orderBy('ar_id')
      .orderBy('idx')
      .execute();
  }

  /** Taken indices per range: what the pure allocator needs. Reads only two small integer columns. */
  async used(vnetId: number, db: Db = this.db): Promise<Map<number, Set<number>>> {
    const rows = await db.selectFrom('vnet_leases').select(['ar_id', 'idx']).where('vnet_id', '=', vnetId).execute();
    const out = new Map<number, Set<number>>();
    for (const r of rows) {
      let set = out.get(r.ar_id);
      if (!set) {
        set = new Set();
        out.set(r.ar_id, set);
      }
      set.add(r.idx);
    }
    return out;
  }

  count(vnetId: number, db: Db = this.db): Promise<number> {
    return db
      .selectFrom('vnet_leases')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('vnet_id', '=', vnetId)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  ofVm(vmId: number, db: Db = this.db): Promise<LeaseRow[]> {
    return db.selectFrom('vnet_leases').selectAll().where('vm_id', '=', vmId).orderBy('nic_id').execute();
  }

  async insert(trx: Transaction<Database>, row: Omit<LeaseRow, 'created_at'>): Promise<void> {
    await trx
      .insertInto('vnet_leases')
      .values({ ...row, created_at: Date.now() })
      .execute();
  }

  async remove(trx: Transaction<Database>, vnetId: number, arId: number, idx: number): Promise<void> {
    await trx
      .deleteFrom('vnet_leases')
      .where('vnet_id', '=', vnetId)
      .where('ar_id', '=', arId)
      .where('idx', '=', idx)
      .execute();
  }

  /** Frees a VM's leases (all, or one NIC's); returns what was freed. */
  async releaseVm(trx: Transaction<Database>, vmId: number, nicId?: number): Promise<LeaseRow[]> {
    let q = trx.selectFrom('vnet_leases').selectAll().where('vm_id', '=', vmId).where('kind', '=', 'vm');
    if (nicId !== undefined) q = q.where('nic_id', '=', nicId);
    const rows = await q.execute();
    let d = trx.deleteFrom('vnet_leases').where('vm_id', '=', vmId).where('kind', '=', 'vm');
    if (nicId !== undefined) d = d.where('nic_id', '=', nicId);
    await d.execute();
    return rows;
  }

  /** Drops every lease of a network (the network is being deleted). */
  async removeNetwork(trx: Transaction<Database>, vnetId: number): Promise<void> {
    await trx.deleteFrom('vnet_leases').where('vnet_id', '=', vnetId).execute();
  }

  /** Drops the leases a reservation took in its parent. */
  async removeReserved(trx: Transaction<Database>, parentId: number, ownerId: number): Promise<void> {
    await trx.deleteFrom('vnet_leases').where('vnet_id', '=', parentId).where('owner_vnet_id', '=', ownerId).execute();
  }
}
