import { type Kysely, type Migration, sql } from 'kysely';
import { renderObjectJson } from '../../core/present.js';
import { rowToObject } from '../object-store.js';
import type { Database } from '../schema.js';
import { TABLE_OF } from '../tables.js';
import { INITIAL_KINDS } from './001-initial.js';

/**
 * Every row kept its rendered API representation (`json`), so reads sent
 * stored text; existing rows were rendered here. Migration 010 dropped the
 * column again once the database composed the representation on read.
 */
export const objectJson: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    // The tables as they were then: with the `json` column.
    const typed = db as unknown as Kysely<{ [T in keyof Database]: Database[T] & { json: string } }>;
    for (const kind of INITIAL_KINDS) {
      const table = TABLE_OF[kind];
      await db.schema
        .alterTable(table)
        .addColumn('json', 'text', (c) => c.notNull().defaultTo(sql`''`))
        .execute();
      const rows = await typed
        .selectFrom(table as 'vms')
        .selectAll()
        .execute();
      for (const row of rows) {
        await typed
          .updateTable(table as 'vms')
          .set({ json: renderObjectJson(rowToObject(kind, row)) })
          .where('id', '=', row.id)
          .execute();
      }
    }
  },
};
