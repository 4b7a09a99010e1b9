import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

type Kind = 'user' | 'group' | 'cluster' | 'host' | 'datastore' | 'image' | 'vnet' | 'template' | 'vm';
const PLURAL: Record<Kind, string> = {
  user: 'users',
  group: 'groups',
  cluster: 'clusters',
  host: 'hosts',
  datastore: 'datastores',
  image: 'images',
  vnet: 'vnets',
  template: 'templates',
  vm: 'vms',
};
const USER_CREATABLE = new Set<Kind>(['image', 'template', 'vm']);

/**
 * The permission matrix, walked for every object kind: an object owned by
 * alice in group `users`; bob is in `users`, carol in another group. For each
 * permission setting the test checks who can see it (show and list), who can
 * change it (rename, chmod) and that admins always can; invisible objects
 * answer 404 so ids do not leak, visible-but-not-allowed ones 403.
 */
describe('tenant isolation across every object kind', () => {
  let server: TestServer;
  let admin: Api;
  let alice: Api;
  let bob: Api;
  let carol: Api;
  let aliceId: number;
  const objects = new Map<Kind, number>();

  async function makeUser(name: string, groupId: number): Promise<number> {
    const res = await admin.post('/api/v1/users', { name, password: `${name}-password`, group_id: groupId });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  async function create(kind: Kind): Promise<number> {
    const n = `${kind}-iso`;
    const bodies: Record<Kind, unknown> = {
      user: null,
      group: { name: n },
      cluster: { name: n },
      host: { name: n },
      datastore: { name: n, template: 'TYPE = IMAGE_DS\nDS_MAD = fs\nTM_MAD = local' },
      image: { name: n, template: 'TYPE = DATABLOCK\nSIZE = 16' },
      vnet: { name: n, template: 'VN_MAD = bridge\nBRIDGE = br0' },
      template: { name: n, template: 'MEMORY = 64' },
      vm: { template: `NAME = ${n}\nMEMORY = 64` },
    };
    if (kind === 'user') return aliceId;
    const actor = USER_CREATABLE.has(kind) ? alice : admin;
    const res = await actor.post(`/api/v1/${PLURAL[kind]}`, bodies[kind]);
    assert.equal(res.status, 201, `${kind}: ${JSON.stringify(res.body)}`);
    if (!USER_CREATABLE.has(kind)) {
      const chown = await admin.post(`/api/v1/${PLURAL[kind]}/${res.body.id}/chown`, { uid: aliceId, gid: 1 });
      assert.equal(chown.status, 200, `${kind} chown: ${JSON.stringify(chown.body)}`);
    }
    return res.body.id;
  }

  before(async () => {
    server = await new TestServer().start();
    admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    const other = await admin.post('/api/v1/groups', { name: 'other' });
    aliceId = await makeUser('alice', 1);
    await makeUser('bob', 1);
    await makeUser('carol', other.body.id);
    alice = await Api.login(server.url, 'alice', 'alice-password');
    bob = await Api.login(server.url, 'bob', 'bob-password');
    carol = await Api.login(server.url, 'carol', 'carol-password');
  });
  after(async () => server?.dispose());

  test('regular users cannot create infrastructure objects', async () => {
    for (const kind of ['user', 'group', 'cluster', 'host', 'datastore', 'vnet'] as Kind[]) {
      const res = await alice.post(`/api/v1/${PLURAL[kind]}`, {
        name: `nope-${kind}`,
        password: 'password1',
        template: 'VN_MAD = bridge',
      });
      assert.equal(res.status, 403, kind);
      assert.equal(res.body.error.code, 'E_FORBIDDEN', kind);
    }
  });

  for (const kind of Object.keys(PLURAL) as Kind[]) {
    test(`${kind}: visibility and rights follow owner/group/other bits`, async () => {
      const id = await create(kind);
      objects.set(kind, id);
      const path = `/api/v1/${PLURAL[kind]}/${id}`;
      const chmod = async (perms: string) => {
        const res = await admin.post(`${path}/chmod`, { permissions: perms });
        assert.equal(res.status, 200, `${kind} chmod ${perms}: ${JSON.stringify(res.body)}`);
      };
      const listed = async (who: Api) =>
        (await who.get(`/api/v1/${PLURAL[kind]}?limit=0`)).body.items.some((o: { id: number }) => o.id === id);
      const expectStatus = async (who: Api, method: 'show' | 'rename' | 'chmod-admin', status: number, why: string) => {
        const res =
          method === 'show'
            ? await who.get(path)
            : method === 'rename'
              ? await who.post(`${path}/rename`, { name: `${kind}-renamed-${Math.random().toString(36).slice(2, 8)}` })
              : await who.post(`${path}/chmod`, { permissions: '770' });
        assert.equal(res.status, status, `${kind} ${method} (${why}): ${JSON.stringify(res.body)}`);
        if (status === 404) assert.equal(res.body.error.code, 'E_NOT_FOUND');
        if (status === 403) assert.equal(res.body.error.code, 'E_FORBIDDEN');
      };

      await chmod('600');
      await expectStatus(alice, 'show', 200, 'owner use');
      await expectStatus(alice, 'rename', 200, 'owner manage');
      await expectStatus(bob, 'show', 404, 'no group bit');
      await expectStatus(bob, 'rename', 404, 'invisible to bob');
      await expectStatus(carol, 'show', 404, 'no other bit');
      await expectStatus(admin, 'show', 200, 'admin');
      assert.equal(await listed(bob), false);
      assert.equal(await listed(carol), false);
      assert.equal(await listed(admin), true);

      await chmod('640');
      await expectStatus(bob, 'show', 200, 'group use');
      await expectStatus(bob, 'rename', 403, 'group has no manage');
      await expectStatus(carol, 'show', 404, 'still no other bit');
      assert.equal(await listed(bob), true);
      assert.equal(await listed(carol), false);

      await chmod('660');
      await expectStatus(bob, 'rename', 200, 'group manage');
      await expectStatus(bob, 'chmod-admin', 403, 'admin bits need admin right');

      await chmod('604');
      await expectStatus(carol, 'show', 200, 'other use');
      await expectStatus(carol, 'rename', 403, 'other has no manage');
      await expectStatus(bob, 'rename', 403, 'group digit is 0 now');
      assert.equal(await listed(carol), true);

      const steal = await alice.post(`${path}/chown`, kind === 'user' ? { gid: 0 } : { uid: 0 });
      assert.equal(steal.status, 403, `${kind}: owners cannot give objects away or join oneadmin`);
      await chmod('600');
    });
  }

  test('VM actions need MANAGE; admin-only actions need ADMIN', async () => {
    const id = objects.get('vm') as number;
    const path = `/api/v1/vms/${id}`;
    await admin.post(`${path}/chmod`, { permissions: '640' });
    const denied = await bob.post(`${path}/actions/hold`);
    assert.equal(denied.status, 403);
    await admin.post(`${path}/chmod`, { permissions: '660' });
    assert.equal((await bob.post(`${path}/actions/hold`)).status, 200);
    assert.equal((await bob.post(`${path}/actions/release`)).status, 200);
    const host = objects.get('host') as number;
    const deploy = await alice.post(`${path}/actions/deploy`, { host_id: host });
    assert.equal(deploy.status, 403, 'deploy is an admin action');
    const ok = await admin.post(`${path}/actions/deploy`, { host_id: host });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.lcm_state, 'PROLOG');
  });

  test('instantiating a template needs USE on it; the VM belongs to the caller', async () => {
    const id = objects.get('template') as number;
    await admin.post(`/api/v1/templates/${id}/chmod`, { permissions: '600' });
    assert.equal((await bob.post(`/api/v1/templates/${id}/instantiate`, {})).status, 404);
    await admin.post(`/api/v1/templates/${id}/chmod`, { permissions: '640' });
    const res = await bob.post(`/api/v1/templates/${id}/instantiate`, {});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.items[0].uname, 'bob');
    assert.equal((await alice.get(`/api/v1/vms/${res.body.items[0].id}`)).status, 404);
  });

  test('the event stream only shows what the subscriber may see', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${server.url}/api/v1/events?kinds=template`, {
      headers: { authorization: `Bearer ${carol.token}` },
      signal: ctrl.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const hidden = await alice.post('/api/v1/templates', { name: 'secret-evt', template: 'MEMORY = 32' });
    const shown = await alice.post('/api/v1/templates', { name: 'public-evt', template: 'MEMORY = 32' });
    await alice.post(`/api/v1/templates/${shown.body.id}/chmod`, { permissions: '604' });
    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes(`"id":${shown.body.id},"revision":2`) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctrl.abort();
    assert.match(text, new RegExp(`"id":${shown.body.id},"revision":2`));
    assert.doesNotMatch(text, new RegExp(`"id":${hidden.body.id},`));
  });
});
