import { type Kysely, type Migration, sql } from 'kysely';

/** VM groups (`vmgroups`): the common object row, names unique per owner like OpenNebula's. */
export const vmGroups: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('vmgroups')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('uid', 'integer', (c) => c.notNull())
      .addColumn('gid', 'integer', (c) => c.notNull())
      .addColumn('uname', 'text', (c) => c.notNull())
      .addColumn('gname', 'text', (c) => c.notNull())
      .addColumn('perms', 'integer', (c) => c.notNull())
      .addColumn('state', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('lcm_state', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('template', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('json', 'text', (c) => c.notNull().defaultTo(sql`''`))
      .execute();
    await db.schema.createIndex('vmgroups_name_uid').on('vmgroups').columns(['name', 'uid']).unique().execute();
    await db.schema.createIndex('vmgroups_uid').on('vmgroups').column('uid').execute();
    await db.schema.createIndex('vmgroups_gid').on('vmgroups').column('gid').execute();
  },
};
