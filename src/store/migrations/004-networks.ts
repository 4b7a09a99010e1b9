import { type Kysely, type Migration, sql } from 'kysely';
import { objectTable } from './object-table.js';

/**
 * Leases of virtual networks live in their own table, not in the network's
 * body: a /16 network can hold 65,536 of them, and allocating one must not
 * rewrite them all. The primary key (network, range, index) and the unique
 * MAC per network make a double lease impossible even if two writers race;
 * allocation also bumps the network's revision, so racing allocations retry.
 */
export const networks: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('vnet_leases')
      .addColumn('vnet_id', 'integer', (c) => c.notNull())
      .addColumn('ar_id', 'integer', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('mac', 'text', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('ip6', 'text')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('vm_id', 'integer')
      .addColumn('nic_id', 'integer')
      .addColumn('owner_vnet_id', 'integer')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('vnet_leases_pk', ['vnet_id', 'ar_id', 'idx'])
      .execute();
    await db.schema.createIndex('vnet_leases_mac').on('vnet_leases').columns(['vnet_id', 'mac']).unique().execute();
    await db.schema.createIndex('vnet_leases_vm').on('vnet_leases').column('vm_id').execute();
    // Security groups: the common object row, names unique per owner.
    await objectTable(db, 'secgroups')
      .addColumn('json', 'text', (c) => c.notNull().defaultTo(sql`''`))
      .execute();
    await db.schema
      .createIndex('secgroups_name_uid')

      .on('secgroups')
      .columns(['name', 'uid'])
      .unique()
      .execute();
    await db.schema.createIndex('secgroups_uid').on('secgroups').column('uid').execute();
    await db.schema.createIndex('secgroups_gid').on('secgroups').column('gid').execute();
  },
};
