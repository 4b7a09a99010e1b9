import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseKinds, freshDatabase } from '../../../test/support/databases.js';
import { openDatabase } from '../database.js';
import { openStore } from '../index.js';
import type { VmTable } from '../schema.js';

const body = (extra: Record<string, unknown>) =>
  JSON.stringify({ host_id: 1, host_name: 'h', pending_op: null, resched: false, history: [], ...extra });

for (const label of databaseKinds()) {
  describe(`migrations 008 and 009 (vms.needs_work, vms.sched_pending) on ${label}`, () => {
    test('classifies existing VMs: outstanding operations, cleanups and reschedules, nothing else', async () => {
      const tdb = await freshDatabase(label);
      try {
        const old = await openDatabase(tdb.config, '007-vm-groups');
        const rows = [
          ['quiet', body({})],
          ['booting', body({ pending_op: 'boot' })],
          ['cleaning', body({ cleanup_hosts: [2] })],
          ['cleaned', body({ cleanup_hosts: [] })],
          ['resched', body({ resched: true })],
          ['mentions', body({ sched_message: 'said "resched":true once' })],
          ['scheduled', body({ sched_actions: [{ id: 0, action: 'poweroff', time: 2_000_000_000, done: 0 }] })],
          ['ran', body({ sched_actions: [{ id: 0, action: 'poweroff', time: 100, done: 100 }] })],
        ].map(([name, b], id) => ({
          id,
          name: name as string,
          uid: 0,
          gid: 0,
          uname: 'oneadmin',
          gname: 'oneadmin',
          perms: 0o600,
          state: 3,
          lcm_state: 3,
          template: '{}',
          body: b as string,
          revision: 1,
          created_at: 0,
          updated_at: 0,
          json: '{}',
          host_id: 1,
        }));
        // The table as it was before migration 008 (no needs_work column).
        await old.db
          .insertInto('vms')
          .values(rows as unknown as VmTable[])
          .execute();
        await old.close();
        const store = await openStore(tdb.config);
        try {
          const names = (await store.objects.list('vm', { needsWork: true })).map((v) => v.name);
          assert.deepEqual(names, ['booting', 'cleaning', 'resched']);
          // Migration 009 on the same rows: only schedules still to run count.
          const scheduled = (await store.objects.list('vm', { schedPending: true })).map((v) => v.name);
          assert.deepEqual(scheduled, ['scheduled']);
        } finally {
          await store.close();
        }
      } finally {
        await tdb.drop();
      }
    });
  });
}
