import { type Kysely, type Migration, sql } from 'kysely';
import { renderObjectJson } from '../../core/present.js';
import { rowToObject } from '../object-store.js';
import type { Database } from '../schema.js';
import { TABLE_OF } from '../tables.js';
import { INITIAL_KINDS } from './001-initial.js';

/**
 * Every row keeps its rendered API representation (`json`), so reads send
 * stored text. Existing rows are rendered here.
 */
export const objectJson: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const typed = db as unknown as Kysely<Database>;
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
