import type { Kysely, Migration } from 'kysely';
import type { ObjectKind } from '../../core/model.js';
import { TABLE_OF } from '../tables.js';
import { objectTable } from './object-table.js';

/** The kinds this migration created; later kinds come with their own migrations. */
export const INITIAL_KINDS: readonly ObjectKind[] = [
  'user',
  'group',
  'cluster',
  'host',
  'datastore',
  'image',
  'vnet',
  'template',
  'vm',
];

/** One table per object kind with the common row shape, plus ids and tokens. */
export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const kind of INITIAL_KINDS) {
      const table = TABLE_OF[kind];
      let create = objectTable(db, table);
      if (kind === 'vm') create = create.addColumn('host_id', 'integer');
      await create.execute();
      await nameIndex(db, kind, table);
      await db.schema.createIndex(`${table}_uid`).on(table).column('uid').execute();
      await db.schema.createIndex(`${table}_gid`).on(table).column('gid').execute();
    }
    await db.schema.createIndex('vms_state').on('vms').columns(['state', 'lcm_state']).execute();
    await db.schema.createIndex('vms_host').on('vms').column('host_id').execute();
    await db.schema
      .createTable('pool_control')
      .addColumn('kind', 'text', (c) => c.primaryKey())
      .addColumn('last_oid', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tokens_uid').on('tokens').column('uid').execute();
  },
};

async function nameIndex(db: Kysely<unknown>, kind: ObjectKind, table: string): Promise<void> {
  if (kind === 'vm') {
    await db.schema.createIndex(`${table}_name`).on(table).column('name').execute();
  } else if (kind === 'user' || kind === 'group' || kind === 'cluster' || kind === 'host' || kind === 'datastore') {
    await db.schema.createIndex(`${table}_name`).on(table).column('name').unique().execute();
  } else {
    await db.schema.createIndex(`${table}_name_uid`).on(table).columns(['name', 'uid']).unique().execute();
  }
}
