import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../test/support/databases.js';
import { OneError } from '../core/errors.js';
import type { NewPoolObject, PoolObject } from '../core/model.js';
import type { Principal } from '../core/permissions.js';
import type { SchedAction } from '../core/sched-actions.js';
import { type ChangeEvent, openStore, type Store } from './index.js';

function template(name: string, uid = 1, gid = 1, perms = 0o600): NewPoolObject<'template'> {
  return {
    name,
    uid,
    gid,
    uname: `u${uid}`,
    gname: `g${gid}`,
    perms,
    state: 0,
    lcmState: 0,
    template: { MEMORY: '128', DISK: [{ IMAGE_ID: '0' }, { IMAGE_ID: '1' }] },
    body: {},
  };
}

function vm(name: string, host_id: number | null, state = 1): NewPoolObject<'vm'> {
  return {
    name,
    uid: 1,
    gid: 1,
    uname: 'u1',
    gname: 'g1',
    perms: 0o600,
    state,
    lcmState: 0,
    template: { MEMORY: '64' },
    body: {
      template_id: null,
      host_id,
      host_name: null,
      pending_op: null,
      last_action: null,
      error: null,
      resched: false,
      sched_message: '',
      history: [],
      user_template: {},
      stime: 0,
      etime: 0,
    },
  };
}

const user = (uid: number, groups: number[]): Principal => ({
  uid,
  gid: groups[0] ?? 1,
  groups,
  admin: false,
  name: `u${uid}`,
});

for (const label of databaseKinds()) {
  describe(`object store on ${label}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    const events: ChangeEvent[] = [];

    before(async () => {
      tdb = await freshDatabase(label);
      store = await openStore(tdb.config);
      store.objects.onChange((e) => events.push(e));
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('ids start at 0 per kind, are never reused, and round-trip every field', async () => {
      const a = await store.objects.create('template', template('a'));
      const b = await store.objects.create('template', template('b'));
      assert.equal(a.id, 0);
      assert.equal(b.id, 1);
      await store.objects.delete('template', b.id);
      const c = await store.objects.create('template', template('c'));
      assert.equal(c.id, 2);
      const got = await store.objects.get('template', a.id);
      assert.deepEqual(got, a);
      assert.equal(got?.revision, 1);
    });

    test('compare-and-set update bumps the revision and refuses a stale one, changing nothing', async () => {
      const t = await store.objects.create('template', template('cas'));
      const u = await store.objects.update('template', t.id, 1, (o) => ({ ...o, template: { MEMORY: '256' } }));
      assert.equal(u.revision, 2);
      await assert.rejects(
        store.objects.update('template', t.id, 1, (o) => ({ ...o, template: { MEMORY: '999' } })),
        (e: unknown) => e instanceof OneError && e.code === 'E_REVISION_MISMATCH' && e.details.revision === 2,
      );
      const now = await store.objects.get('template', t.id);
      assert.deepEqual(now?.template, { MEMORY: '256' });
      assert.equal(now?.revision, 2);
    });

    test('an update writes exactly the fields that changed, whichever they are, and the stored JSON follows', async () => {
      const first = await store.objects.create('vm', vm('cols', null));
      const changes: ((o: PoolObject<'vm'>) => PoolObject<'vm'>)[] = [
        (o) => ({ ...o, body: { ...o.body, host_id: 7, host_name: 'h7' } }),
        (o) => ({ ...o, state: 3, lcmState: 1 }),
        (o) => ({ ...o, name: 'cols-renamed' }),
        (o) => ({ ...o, uid: 2, uname: 'u2', gid: 2, gname: 'g2', perms: 0o640 }),
        (o) => ({ ...o, template: { ...o.template, MEMORY: '96' } }),
        (o) => ({ ...o, body: { ...o.body, host_id: null, host_name: null } }),
        (o) => o,
      ];
      let expected: PoolObject<'vm'> = first;
      for (const change of changes) {
        expected = await store.objects.update('vm', expected.id, expected.revision, change);
        assert.deepEqual(await store.objects.get('vm', expected.id), expected);
        const stored = await store.objects.getJson('vm', expected.id);
        const json = JSON.parse(stored?.json ?? '{}');
        assert.equal(json.name, expected.name);
        assert.equal(json.uid, expected.uid);
        assert.equal(json.revision, expected.revision);
        assert.equal(json.host_id, expected.body.host_id);
        assert.deepEqual(json.template, expected.template);
        // The host_id column (what lists by host use) follows the body.
        const onHost = await store.objects.list('vm', { hostId: 7, includeDone: true });
        assert.equal(
          onHost.some((v) => v.id === expected.id),
          expected.body.host_id === 7,
        );
      }
      assert.equal(expected.revision, first.revision + changes.length);
      await store.objects.delete('vm', expected.id); // later tests count VMs
    });

    test('VMs with work outstanding are found by an indexed query that follows every write', async () => {
      const quiet = await store.objects.create('vm', vm('quiet', 3, 3));
      const busy = await store.objects.create('vm', {
        ...vm('busy', 3, 3),
        body: { ...vm('busy', 3, 3).body, pending_op: 'boot' },
      });
      const ids = async () =>
        (await store.objects.list('vm', { needsWork: true })).map((v) => v.id).filter((id) => id >= quiet.id);
      assert.deepEqual(await ids(), [busy.id]);
      const resched = await store.objects.update('vm', quiet.id, undefined, (o) => ({
        ...o,
        body: { ...o.body, resched: true },
      }));
      const done = await store.objects.update('vm', busy.id, undefined, (o) => ({
        ...o,
        body: { ...o.body, pending_op: null },
      }));
      assert.deepEqual(await ids(), [quiet.id]);
      await store.objects.update('vm', done.id, undefined, (o) => ({ ...o, body: { ...o.body, cleanup_hosts: [1] } }));
      await store.objects.update('vm', resched.id, undefined, (o) => ({ ...o, body: { ...o.body, resched: false } }));
      assert.deepEqual(await ids(), [busy.id]);
      // Scheduled actions still to run: their own indexed flag.
      const scheduled = async () =>
        (await store.objects.list('vm', { schedPending: true })).map((v) => v.id).filter((id) => id >= quiet.id);
      assert.deepEqual(await scheduled(), []);
      const sa = { id: 0, action: 'poweroff', time: 2_000_000_000, done: 0 } as unknown as SchedAction;
      const withSa = await store.objects.update('vm', quiet.id, undefined, (o) => ({
        ...o,
        body: { ...o.body, sched_actions: [sa] },
      }));
      assert.deepEqual(await scheduled(), [quiet.id]);
      await store.objects.update('vm', withSa.id, undefined, (o) => ({
        ...o,
        body: { ...o.body, sched_actions: [{ ...sa, done: sa.time }] },
      }));
      assert.deepEqual(await scheduled(), []);
      await store.objects.delete('vm', quiet.id);
      await store.objects.delete('vm', busy.id); // later tests count VMs
    });

    test('concurrent writers without If-Match both land: a lost compare-and-set race is retried', async () => {
      const t = await store.objects.create('template', template('race'));
      await Promise.all(
        ['A', 'B', 'C', 'D'].map((k) =>
          store.objects.update('template', t.id, undefined, async (o) => {
            await new Promise((r) => setTimeout(r, 5));
            return { ...o, template: { ...o.template, [k]: '1' } };
          }),
        ),
      );
      const now = await store.objects.get('template', t.id);
      assert.equal(now?.revision, 5);
      assert.deepEqual([now?.template.A, now?.template.B, now?.template.C, now?.template.D], ['1', '1', '1', '1']);
    });

    test('names are unique per owner for templates and globally for users', async () => {
      await store.objects.create('template', template('dup', 5));
      await store.objects.create('template', template('dup', 6));
      await assert.rejects(
        store.objects.create('template', template('dup', 5)),
        (e: unknown) => e instanceof OneError && e.code === 'E_NAME_TAKEN',
      );
    });

    test('a failed transaction leaves nothing behind and publishes nothing', async () => {
      const before = await store.objects.count('template');
      const seen = events.length;
      await assert.rejects(
        store.objects.transaction(async (tx) => {
          await tx.create('template', template('tx1', 9));
          await tx.create('template', template('tx1', 9));
        }),
        (e: unknown) => e instanceof OneError && e.code === 'E_NAME_TAKEN',
      );
      assert.equal(await store.objects.count('template'), before);
      assert.equal(events.length, seen);
    });

    test('visibility follows owner/group/other USE bits', async () => {
      const own = await store.objects.create('template', template('vis-own', 20, 20, 0o600));
      const grp = await store.objects.create('template', template('vis-grp', 21, 30, 0o640));
      const oth = await store.objects.create('template', template('vis-oth', 22, 31, 0o604));
      const hidden = await store.objects.create('template', template('vis-hidden', 23, 30, 0o600));
      const ids = (p: Principal) =>
        store.objects.list('template', { visibleTo: p }).then((l: PoolObject[]) => new Set(l.map((o) => o.id)));
      const u20 = await ids(user(20, [20]));
      assert.ok(u20.has(own.id) && !u20.has(grp.id) && u20.has(oth.id) && !u20.has(hidden.id));
      const u40 = await ids(user(40, [30]));
      assert.ok(!u40.has(own.id) && u40.has(grp.id) && u40.has(oth.id) && !u40.has(hidden.id));
      const admin = await ids({ ...user(0, [0]), admin: true });
      assert.ok(admin.has(hidden.id));
    });

    test('keyset pagination walks every row exactly once', async () => {
      for (let i = 0; i < 25; i++) await store.objects.create('vm', vm(`p${i}`, i % 3));
      const seen: number[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await store.objects.list('vm', after === undefined ? { limit: 7 } : { limit: 7, after });
        if (page.length === 0) break;
        seen.push(...page.map((v) => v.id));
        after = page.at(-1)?.id;
      }
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
      assert.equal((await store.objects.list('vm', { hostId: 1 })).length, 8);
      // the database-side aggregation keeps id order and pages like listRows
      const page = await store.objects.listJson('vm', { limit: 5, after: seen[2] as number });
      const ids = (JSON.parse(`[${page.items.toString()}]`) as { id: number }[]).map((v) => v.id);
      assert.deepEqual(ids, seen.slice(3, 8));
      assert.equal(page.count, 5);
      assert.equal(page.lastId, seen[7]);
      const whole = JSON.parse(`[${(await store.objects.listJson('vm')).items.toString()}]`) as { id: number }[];
      assert.deepEqual(
        whole.map((v) => v.id),
        [...whole.map((v) => v.id)].sort((a, b) => a - b),
      );
    });

    test('DONE VMs are hidden from lists unless asked for', async () => {
      const done = await store.objects.create('vm', vm('gone', null, 6));
      const listed = await store.objects.list('vm');
      assert.ok(!listed.some((v) => v.id === done.id));
      const all = await store.objects.list('vm', { includeDone: true });
      assert.ok(all.some((v) => v.id === done.id));
    });

    test('change events carry kind, op, id and revision after commit', async () => {
      const seen = events.length;
      const t = await store.objects.create('template', template('ev'));
      await store.objects.update('template', t.id, undefined, (o) => o);
      await store.objects.delete('template', t.id);
      assert.deepEqual(
        events.slice(seen).map((e) => [e.kind, e.op, e.id, e.revision]),
        [
          ['template', 'create', t.id, 1],
          ['template', 'update', t.id, 2],
          ['template', 'delete', t.id, 3],
        ],
      );
    });

    test('tokens are stored by hash and expire', async () => {
      await store.tokens.put('h1', 3, Date.now() + 60_000);
      await store.tokens.put('h2', 3, Date.now() - 1);
      assert.equal((await store.tokens.get('h1'))?.uid, 3);
      assert.equal(await store.tokens.purgeExpired(), 1);
      assert.equal(await store.tokens.get('h2'), undefined);
    });
  });
}
