import type { Kysely } from 'kysely';

/**
 * The common row of every object kind's table (see store/schema.ts ObjectTable),
 * for migrations that create one. Callers add kind-specific columns and indexes.
 */
export function objectTable(db: Kysely<unknown>, table: string) {
  return db.schema
    .createTable(table)
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
    .addColumn('updated_at', 'bigint', (c) => c.notNull());
}
