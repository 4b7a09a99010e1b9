import { type Kysely, type Migration, sql } from 'kysely';
import type { VmBody } from '../../core/model.js';
import type { Database } from '../schema.js';

/**
 * A migration adding an indexed 0/1 column to `vms` that every VM write keeps
 * (object-store.ts): existing rows whose body text may match one of `needles`
 * are parsed and flagged when `holds(body)`; a partial index over the flagged
 * rows lets a periodic reader fetch just those.
 */
export function vmFlagColumn(
  column: 'needs_work' | 'sched_pending',
  needles: readonly string[],
  holds: (body: VmBody) => boolean,
): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const typed = db as unknown as Kysely<Database>;
      await db.schema
        .alterTable('vms')
        .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      const rows = await typed
        .selectFrom('vms')
        .select(['id', 'body'])
        .where((eb) => eb.or(needles.map((t) => eb('body', 'like', `%${t}%`))))
        .execute();
      for (const row of rows) {
        if (!holds(JSON.parse(row.body) as VmBody)) continue;
        await typed
          .updateTable('vms')
          .set({ [column]: 1 })
          .where('id', '=', row.id)
          .execute();
      }
      await sql`create index ${sql.id(`vms_${column}`)} on vms (id) where ${sql.id(column)} = 1`.execute(db);
    },
  };
}
