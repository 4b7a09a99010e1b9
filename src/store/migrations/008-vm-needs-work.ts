import { type Kysely, type Migration, sql } from 'kysely';
import type { VmBody } from '../../core/model.js';
import { vmNeedsWork } from '../../core/vm-body.js';
import type { Database } from '../schema.js';

/**
 * `vms.needs_work`: 1 while a VM has a host operation outstanding, a migration
 * source to clean or a reschedule asked for (core/vm-body.ts), kept by every
 * write. The lifecycle controller's periodic resync reads the few such VMs
 * through a partial index instead of scanning every VM's body text (370 ms a
 * scan at 100,000 VMs, every 5 s). Existing rows are classified here.
 */
export const needsWorkColumn: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const typed = db as unknown as Kysely<Database>;
    await db.schema
      .alterTable('vms')
      .addColumn('needs_work', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    const rows = await typed
      .selectFrom('vms')
      .select(['id', 'body'])
      .where((eb) =>
        eb.or(['"pending_op":"', '"cleanup_hosts":[', '"resched":true'].map((t) => eb('body', 'like', `%${t}%`))),
      )
      .execute();
    for (const row of rows) {
      if (!vmNeedsWork(JSON.parse(row.body) as VmBody)) continue;
      await typed.updateTable('vms').set({ needs_work: 1 }).where('id', '=', row.id).execute();
    }
    await sql`create index vms_needs_work on vms (id) where needs_work = 1`.execute(db);
  },
};
