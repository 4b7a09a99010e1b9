import type { Kysely, Migration } from 'kysely';

/**
 * Push monitoring time series (reference §5.6): one row per host record
 * (usage, system, datastore) and one per VM usage sample. `data` is the
 * record's JSON. Rows expire by `ts` (ms), hence the ts indexes.
 */
export const monitoring: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('host_monitoring')
      .addColumn('host_id', 'integer', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('host_monitoring_host_ts').on('host_monitoring').columns(['host_id', 'ts']).execute();
    await db.schema.createIndex('host_monitoring_ts').on('host_monitoring').column('ts').execute();
    await db.schema
      .createTable('vm_monitoring')
      .addColumn('vm_id', 'integer', (c) => c.notNull())
      .addColumn('host_id', 'integer', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('vm_monitoring_vm_ts').on('vm_monitoring').columns(['vm_id', 'ts']).execute();
    await db.schema.createIndex('vm_monitoring_ts').on('vm_monitoring').column('ts').execute();
  },
};
