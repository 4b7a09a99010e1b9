import { type Kysely, type Migration, sql } from 'kysely';
import { objectTable } from './object-table.js';

/** VM groups (`vmgroups`): the common object row, names unique per owner like OpenNebula's. */
export const vmGroups: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await objectTable(db, 'vmgroups')
      .addColumn('json', 'text', (c) => c.notNull().defaultTo(sql`''`))
      .execute();
    await db.schema.createIndex('vmgroups_name_uid').on('vmgroups').columns(['name', 'uid']).unique().execute();
    await db.schema.createIndex('vmgroups_uid').on('vmgroups').column('uid').execute();
    await db.schema.createIndex('vmgroups_gid').on('vmgroups').column('gid').execute();
  },
};
