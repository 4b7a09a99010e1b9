import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../../test/support/databases.js';
import type { NewPoolObject } from '../../core/model.js';
import { emptyVmBody } from '../../core/vm-body.js';
import { openStore, type Store } from '../../store/index.js';
import { VmCache } from './vm-cache.js';

function vm(name: string, id?: number): NewPoolObject<'vm'> {
  return {
    ...(id === undefined ? {} : { id }),
    name,
    uid: 0,
    gid: 0,
    uname: 'oneadmin',
    gname: 'oneadmin',
    perms: 0o600,
    state: 1,
    lcmState: 0,
    template: { CPU: '1', MEMORY: '64' },
    body: emptyVmBody(),
  };
}

for (const label of databaseKinds()) {
  describe(`VM cache on ${label}`, () => {
    let tdb: TestDatabase;
    let mine: Store;
    let other: Store;
    let clock = 0;
    let cache: VmCache;

    before(async () => {
      tdb = await freshDatabase(label);
      mine = await openStore(tdb.config);
      other = await openStore(tdb.config); // a second front-end on the same database
      for (let i = 0; i < 5; i++) await mine.objects.create('vm', vm(`v${i}`));
      cache = new VmCache(mine, 60_000, () => clock);
      cache.start();
    });
    after(async () => {
      cache?.stop();
      await mine?.close();
      await other?.close();
      await tdb?.drop();
    });

    const names = async () => (await cache.list()).map((v) => v.name);

    test('loads once, then re-reads only what this front-end changed', async () => {
      assert.deepEqual(await names(), ['v0', 'v1', 'v2', 'v3', 'v4']);
      assert.equal(cache.stats.reads, 5);
      assert.deepEqual(await names(), ['v0', 'v1', 'v2', 'v3', 'v4']);
      assert.equal(cache.stats.reads, 5, 'nothing changed, nothing read');
      await mine.objects.update('vm', 2, undefined, (o) => ({ ...o, name: 'v2-renamed' }));
      await mine.objects.create('vm', vm('v5'));
      await mine.objects.update('vm', 4, undefined, (o) => ({ ...o, state: 6 })); // DONE
      await mine.objects.delete('vm', 0);
      assert.deepEqual(await names(), ['v1', 'v2-renamed', 'v3', 'v5']);
      assert.equal(cache.stats.reads, 7, 'the renamed and the new VM; DONE and deleted ones are dropped');
      const again = await cache.list();
      assert.equal((await mine.objects.get('vm', 2))?.revision, again.find((v) => v.id === 2)?.revision);
    });

    test('catches up with another front-end at the next revalidation, keeping id order', async () => {
      await other.objects.update('vm', 3, undefined, (o) => ({ ...o, name: 'v3-elsewhere' }));
      await other.objects.create('vm', vm('explicit', 100));
      await other.objects.delete('vm', 1);
      assert.deepEqual(await names(), ['v1', 'v2-renamed', 'v3', 'v5'], 'not seen before revalidating');
      clock += 60_000;
      assert.deepEqual(await names(), ['v2-renamed', 'v3-elsewhere', 'v5', 'explicit']);
      assert.equal(cache.stats.revalidations, 1);
      await mine.objects.create('vm', vm('early', 50));
      assert.deepEqual(await names(), ['v2-renamed', 'v3-elsewhere', 'v5', 'early', 'explicit']);
    });
  });
}
