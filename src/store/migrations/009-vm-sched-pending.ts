import { type Kysely, type Migration, sql } from 'kysely';
import type { VmBody } from '../../core/model.js';
import { vmHasSchedActions } from '../../core/vm-body.js';
import type { Database } from '../schema.js';

/**
 * `vms.sched_pending`: 1 while a VM has scheduled actions still to run
 * (core/vm-body.ts), kept by every write. The scheduled-action runner's
 * periodic rescan reads those VMs through a partial index: reading every VM
 * once a minute blocked the event loop for seconds at 500,000 VMs. Existing
 * rows are classified here.
 */
export const schedPendingColumn: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const typed = db as unknown as Kysely<Database>;
    await db.schema
      .alterTable('vms')
      .addColumn('sched_pending', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    const rows = await typed
      .selectFrom('vms')
      .select(['id', 'body'])
      .where('body', 'like', '%"sched_actions":[{%')
      .execute();
    for (const row of rows) {
      if (!vmHasSchedActions(JSON.parse(row.body) as VmBody)) continue;
      await typed.updateTable('vms').set({ sched_pending: 1 }).where('id', '=', row.id).execute();
    }
    await sql`create index vms_sched_pending on vms (id) where sched_pending = 1`.execute(db);
  },
};
