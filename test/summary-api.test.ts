import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LoopbackAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { databaseKinds, freshDatabase, type TestDatabase } from './support/databases.js';
import { TestServer } from './support/server.js';

/** `GET /api/v1/summary` (the dashboard's numbers) on every database, with the lists' permission filter. */
for (const label of databaseKinds()) {
  describe(`summary through the API on ${label}`, () => {
    let tdb: TestDatabase | undefined;
    let server: TestServer;
    let admin: Api;
    let nina: Api;
    let hostId: number;

    const act = async (id: number, action: string, body: Record<string, unknown> = {}) => {
      const res = await admin.post(`/api/v1/vms/${id}/actions/${action}`, body);
      assert.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`);
    };

    before(async () => {
      if (label === 'postgres') tdb = await freshDatabase('postgres');
      const url = tdb?.config.kind === 'postgres' ? tdb.config.url : undefined;
      server = await new TestServer(url ? { dbUrl: url } : {}).start();
      admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
      await admin.post('/api/v1/users', { name: 'nina', password: 'nina-password', group_id: 1 });
      nina = await Api.login(server.url, 'nina', 'nina-password');
      hostId = (await admin.post('/api/v1/hosts', { name: 'edge-sum' })).body.id;
    });
    after(async () => {
      await server?.dispose();
      await tdb?.drop();
    });

    test('counts VMs by state and sums the capacity of those holding a host, in the database', async () => {
      const tpl = await admin.post('/api/v1/templates', { template: 'NAME = s\nCPU = 0.5\nMEMORY = 128' });
      assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
      const made = await admin.post(`/api/v1/templates/${tpl.body.id}/instantiate`, { name: 'a-%i', multiple: 3 });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const [a, b, c] = made.body.items.map((v: { id: number }) => v.id) as number[];
      await act(a as number, 'deploy', { host_id: hostId });
      await act(a as number, 'recover-success');
      await act(a as number, 'recover-success');
      await act(b as number, 'hold');
      // VCPU absent counts as 1; a non-numeric CPU counts as nothing.
      const odd = await admin.post('/api/v1/templates', { template: 'NAME = o\nCPU = 2\nVCPU = 4\nMEMORY = 1024' });
      const d = (await admin.post(`/api/v1/templates/${odd.body.id}/instantiate`, {})).body.items[0].id as number;
      await act(d, 'deploy', { host_id: hostId });
      await act(c as number, 'deploy', { host_id: hostId });
      await act(c as number, 'recover-failure');

      const res = await admin.get('/api/v1/summary');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const s = res.body;
      assert.equal(s.vms.total, 4);
      assert.deepEqual(s.vms.by_state, {
        'ACTIVE/RUNNING': 1,
        HOLD: 1,
        'ACTIVE/PROLOG': 1,
        'ACTIVE/PROLOG_FAILURE': 1,
      });
      // a (RUNNING), c (PROLOG_FAILURE) and d (PROLOG) hold edge-sum; b is on hold.
      assert.deepEqual(s.vms.allocated, { cpu: 3, vcpu: 6, memory_mb: 1280 });
      assert.deepEqual(s.hosts, { total: 1, by_state: { INIT: 1 }, reporting: 0, cpus: 0, memory_mb: 0 });
      assert.equal(s.counts.template, 2);
      assert.equal(s.counts.vm, 4);
      assert.equal(s.counts.host, 1);

      // Terminated VMs leave the summary.
      await act(b as number, 'terminate-hard');
      const after = (await admin.get('/api/v1/summary')).body;
      assert.equal(after.vms.total, 3);
      assert.equal(after.vms.by_state.HOLD, undefined);
    });

    test('a user counts only what they may use', async () => {
      let s = (await nina.get('/api/v1/summary')).body;
      assert.equal(s.vms.total, 0);
      assert.deepEqual(s.vms.by_state, {});
      assert.deepEqual(s.vms.allocated, { cpu: 0, vcpu: 0, memory_mb: 0 });
      assert.equal(s.hosts.total, 0, 'hosts are not visible to users');
      assert.equal(s.counts.template, 0);
      const mine = await nina.post('/api/v1/templates', { template: 'NAME = n\nCPU = 1\nMEMORY = 64' });
      assert.equal(mine.status, 201, JSON.stringify(mine.body));
      await nina.post(`/api/v1/templates/${mine.body.id}/instantiate`, { hold: true });
      s = (await nina.get('/api/v1/summary')).body;
      assert.equal(s.vms.total, 1);
      assert.deepEqual(s.vms.by_state, { HOLD: 1 });
      assert.equal(s.counts.template, 1);
      assert.equal((await admin.get('/api/v1/summary')).body.vms.total, 4);
    });

    test('host totals are the machines their agents reported', async () => {
      const agent = new LoopbackAgent();
      try {
        const id = await agent.join(admin, server, 'edge-agent');
        const facts = await waitFor('facts', async () => (await admin.get(`/api/v1/hosts/${id}`)).body.facts);
        const s = (await admin.get('/api/v1/summary')).body;
        assert.equal(s.hosts.total, 2);
        assert.equal(s.hosts.reporting, 1);
        assert.equal(s.hosts.cpus, facts.cpus);
        assert.equal(s.hosts.memory_mb, facts.memoryMb);
      } finally {
        await agent.dispose();
      }
    });

    test('needs a session', async () => {
      const res = await fetch(`${server.url}/api/v1/summary`);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'E_UNAUTHENTICATED');
    });
  });
}
