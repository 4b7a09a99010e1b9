import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../test/support/databases.js';
import { HOST_STATE_NAMES } from '../core/host-states.js';
import type { KindBodies, NewPoolObject, ObjectKind, PoolObject } from '../core/model.js';
import { renderObjectJson } from '../core/present.js';
import { openStore, type Store } from './index.js';

/** An object of `kind` with awkward text in every string field and the given state and body. */
function object<K extends ObjectKind>(
  kind: K,
  name: string,
  state: number,
  lcmState: number,
  body: KindBodies[K],
  perms = 0o640,
): NewPoolObject<K> {
  return {
    kind,
    name,
    uid: 7,
    gid: 3,
    uname: 'o\'brien "the" \\ user',
    gname: 'grüppe\tx',
    perms,
    state,
    lcmState,
    template: { NAME: name, NOTE: 'line1\nline2 "q" \u0001', LIST: [{ A: '1' }, { A: '2' }] },
    body,
  } as NewPoolObject<K>;
}

const vmBody = (): KindBodies['vm'] =>
  ({
    template_id: null,
    host_id: 4,
    host_name: 'edge-1',
    pending_op: null,
    last_action: null,
    error: null,
    resched: false,
    sched_message: 'no host with 4 free CPUs in cluster "edge-paris"',
    history: [],
    user_template: {},
    stime: 1_780_000_000,
    etime: 0,
  }) as unknown as KindBodies['vm'];

for (const label of databaseKinds()) {
  describe(`API representation composed by ${label}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await freshDatabase(label);
      store = await openStore(tdb.config);
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    /** What the database composes for `obj`, single and listed, against the JavaScript rendering. */
    async function check(obj: PoolObject): Promise<Record<string, unknown>> {
      const expected = JSON.parse(renderObjectJson(obj)) as Record<string, unknown>;
      const one = await store.objects.getJson(obj.kind, obj.id);
      assert.ok(one, `${obj.kind} ${obj.id} is readable`);
      assert.deepEqual(JSON.parse(one.json), expected);
      assert.deepEqual(Object.keys(JSON.parse(one.json)), Object.keys(expected), 'the same key order');
      const page = await store.objects.listJson(obj.kind, { ids: [obj.id], includeDone: true });
      assert.deepEqual(JSON.parse(`[${page.items.toString('utf8')}]`), [expected]);
      return expected;
    }

    test('every kind, named and unnamed states, awkward strings, empty and full bodies', async () => {
      const vm = await store.objects.create('vm', object('vm', 'web "1" ünïcode', 3, 3, vmBody(), 0o604));
      await check(vm);
      // A state number without a name shows its digits, as the JavaScript rendering does.
      await check(await store.objects.update('vm', vm.id, undefined, (v) => ({ ...v, state: 99, lcmState: 98 })));
      const tpl = await store.objects.create('template', object('template', 'tpl', 0, 0, {} as KindBodies['template']));
      const shown = await check(tpl);
      assert.equal(shown.permissions, '640');
      assert.equal('state' in shown, false, 'templates have no state');
      await check(await store.objects.create('image', object('image', 'img', 1, 0, { size_mb: 10 } as never)));
      await check(await store.objects.create('vnet', object('vnet', 'net', 1, 0, { bridge: 'br0' } as never, 0o7)));
    });

    test('secrets never appear: users and hosts lose their hashes', async () => {
      const u = await store.objects.create(
        'user',
        object('user', 'alice', 0, 0, { password_hash: 'scrypt$secret', enabled: true } as never),
      );
      const shownUser = await check(u);
      assert.equal('password_hash' in shownUser, false);
      assert.equal(shownUser.enabled, true);
      const h = await store.objects.create(
        'host',
        object('host', 'edge-1', 2, 0, { credential_hash: 'c$x', join_token_hash: 'j$y', cluster_id: 0 } as never),
      );
      const shownHost = await check(h);
      assert.equal('credential_hash' in shownHost, false);
      assert.equal('join_token_hash' in shownHost, false);
      assert.equal(shownHost.state, HOST_STATE_NAMES[2]);
      // A body holding only secrets shows none of its keys.
      const bare = await store.objects.create('user', object('user', 'bob', 0, 0, { password_hash: 'h' } as never));
      assert.equal((await check(bare)).password_hash, undefined);
    });
  });
}
