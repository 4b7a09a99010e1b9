import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { databaseKinds, freshDatabase, type TestDatabase } from './support/databases.js';
import { TestServer } from './support/server.js';

/** An OpenNebula-syntax template as operators write it: comments, vectors, a multi-line value, USER_INPUTS. */
export const WEB_TEMPLATE = `# A small web server
NAME = "web"
MEMORY = 128
CPU = 0.5
VCPU = 1
DISK = [ TYPE = "fs", SIZE = 64 ]
DISK = [
  TYPE = swap,
  SIZE = 32 ]
CONTEXT = [
  NETWORK = "YES",
  GREETING = "$GREETING",
  START_SCRIPT = "#!/bin/sh
echo \\"hello from $NAME\\" > /tmp/motd
httpd -p 8080" ]
USER_INPUTS = [
  GREETING = "M|text|Greeting shown by the server||hi" ]
`;

for (const label of databaseKinds()) {
  describe(`API against a real daemon on ${label}`, () => {
    let tdb: TestDatabase | undefined;
    let server: TestServer;
    let api: Api;

    before(async () => {
      if (label === 'postgres') tdb = await freshDatabase('postgres');
      const url = tdb?.config.kind === 'postgres' ? tdb.config.url : undefined;
      server = await new TestServer(url ? { dbUrl: url } : {}).start();
      api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    });
    after(async () => {
      await server?.dispose();
      await tdb?.drop();
    });

    test('first start writes oneadmin credentials with mode 0600 and serves an OpenAPI 3.1 document', async () => {
      assert.equal(statSync(server.authFile).mode & 0o777, 0o600);
      const doc = await new Api(server.url).get('/api/v1/openapi.json');
      assert.equal(doc.status, 200);
      assert.equal(doc.body.openapi, '3.1.0');
      assert.ok(doc.body.paths['/api/v1/templates/{id}/instantiate']);
      assert.ok(doc.body.paths['/api/v1/vms/{id}/actions/{action}']);
    });

    test('requests without a valid token are refused with E_UNAUTHENTICATED', async () => {
      const anon = await new Api(server.url).get('/api/v1/vms');
      assert.equal(anon.status, 401);
      assert.equal(anon.body.error.code, 'E_UNAUTHENTICATED');
      const forged = await new Api(server.url, 'oe_forged').get('/api/v1/vms');
      assert.equal(forged.status, 401);
      const wrong = await new Api(server.url).post('/api/v1/auth/token', {
        username: 'oneadmin',
        password: 'nope-nope',
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error.code, 'E_UNAUTHENTICATED');
    });

    test('an OpenNebula-syntax template registers and instantiates 3 PENDING VMs', async () => {
      const created = await api.post('/api/v1/templates', { template: WEB_TEMPLATE });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.name, 'web');
      assert.equal(created.body.template.DISK.length, 2);
      assert.match(created.body.template.CONTEXT.START_SCRIPT, /echo "hello from \$NAME"/);
      const inst = await api.post(`/api/v1/templates/${created.body.id}/instantiate`, {
        multiple: 3,
        user_inputs: { GREETING: 'bonjour' },
      });
      assert.equal(inst.status, 201, JSON.stringify(inst.body));
      assert.equal(inst.body.items.length, 3);
      for (const vm of inst.body.items) {
        assert.equal(vm.state, 'PENDING');
        assert.equal(vm.lcm_state, 'LCM_INIT');
        assert.equal(vm.template.CONTEXT.GREETING, 'bonjour');
        assert.match(vm.template.CONTEXT.START_SCRIPT, new RegExp(`hello from ${vm.name}`));
        assert.equal(vm.template_id, created.body.id);
      }
      const list = await api.get('/api/v1/vms?state=PENDING');
      assert.ok(list.body.total >= 3);
    });

    test('USER_INPUTS drive capacity: answers are validated by type and substituted', async () => {
      const t = await api.post('/api/v1/templates', {
        template:
          'NAME = sized\nMEMORY = "$MEM"\nCPU = 1\nUSER_INPUTS = [ MEM = "M|range|Memory (MB)|64..1024|128",\n  MOTD = "M|text|Message of the day" ]\nCONTEXT = [ MOTD = "$MOTD" ]\n',
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const missing = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error.code, 'E_USER_INPUT');
      assert.match(missing.body.error.message, /MOTD/);
      const outOfRange = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {
        user_inputs: { MEM: '4096', MOTD: 'hi' },
      });
      assert.equal(outOfRange.status, 400);
      assert.equal(outOfRange.body.error.code, 'E_USER_INPUT');
      const ok = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {
        user_inputs: { MEM: '256', MOTD: 'hi' },
      });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal(ok.body.items[0].template.MEMORY, '256');
      assert.equal(ok.body.items[0].template.CONTEXT.MOTD, 'hi');
      const dflt = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { user_inputs: { MOTD: 'x' } });
      assert.equal(dflt.body.items[0].template.MEMORY, '128');
    });

    test('a malformed template is refused with E_TEMPLATE_SYNTAX at line:column and nothing is stored', async () => {
      const before = (await api.get('/api/v1/templates')).body.total;
      const res = await api.post('/api/v1/templates', {
        template: 'NAME = bad\nMEMORY = 64\nDISK = [ IMAGE_ID = 0,\n  SIZE = [ 3 ] ]\n',
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'E_TEMPLATE_SYNTAX');
      assert.equal(res.body.error.details.line, 4);
      assert.equal(typeof res.body.error.details.column, 'number');
      assert.match(res.body.error.message, /line 4/);
      assert.equal((await api.get('/api/v1/templates')).body.total, before);
    });

    test('a template missing MEMORY names the attribute; a dangling IMAGE_ID is refused', async () => {
      const noMem = await api.post('/api/v1/templates', { template: 'NAME = nomem\nCPU = 1\n' });
      assert.equal(noMem.status, 400);
      assert.equal(noMem.body.error.code, 'E_TEMPLATE_INVALID');
      assert.match(noMem.body.error.message, /MEMORY/);
      const dangling = await api.post('/api/v1/templates', {
        template: 'NAME = d\nMEMORY = 64\nDISK = [ IMAGE_ID = 4242 ]\n',
      });
      assert.equal(dangling.status, 400);
      assert.equal(dangling.body.error.code, 'E_TEMPLATE_INVALID');
      assert.match(dangling.body.error.message, /DISK.*4242/);
    });

    test('a malformed SCHED_REQUIREMENTS is refused at registration with its column', async () => {
      const res = await api.post('/api/v1/templates', {
        template: 'NAME = badexpr\nMEMORY = 64\nSCHED_REQUIREMENTS = "FREE_CPU > & CLUSTER_ID = 0"\n',
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'E_EXPRESSION_SYNTAX');
      assert.equal(typeof res.body.error.details.column, 'number');
      assert.match(res.body.error.message, /SCHED_REQUIREMENTS/);
    });

    test('an update with a stale revision gets 409 and changes nothing', async () => {
      const t = await api.post('/api/v1/templates', { template: 'NAME = cas\nMEMORY = 64\n' });
      const ok = await api.put(
        `/api/v1/templates/${t.body.id}`,
        { template: 'NAME = cas\nMEMORY = 96\n' },
        { 'if-match': '1' },
      );
      assert.equal(ok.status, 200);
      assert.equal(ok.body.revision, 2);
      const stale = await api.put(
        `/api/v1/templates/${t.body.id}`,
        { template: 'MEMORY = 999\n' },
        { 'if-match': '1' },
      );
      assert.equal(stale.status, 409);
      assert.equal(stale.body.error.code, 'E_REVISION_MISMATCH');
      const now = await api.get(`/api/v1/templates/${t.body.id}`);
      assert.equal(now.body.template.MEMORY, '96');
      assert.equal(now.body.revision, 2);
      assert.equal(now.headers.get('etag'), '"2"');
    });

    test('YAML and JSON templates are accepted with the same meaning', async () => {
      const yaml = await api.post('/api/v1/templates', {
        template: 'NAME: yml\nMEMORY: 64\nDISK:\n  - TYPE: fs\n    SIZE: 10\n  - TYPE: swap\n    SIZE: 5\n',
        format: 'yaml',
      });
      assert.equal(yaml.status, 201, JSON.stringify(yaml.body));
      assert.deepEqual(yaml.body.template.DISK, [
        { TYPE: 'fs', SIZE: '10' },
        { TYPE: 'swap', SIZE: '5' },
      ]);
      const json = await api.post('/api/v1/templates', { template: { NAME: 'jsn', MEMORY: '64' } });
      assert.equal(json.status, 201);
    });

    test('lists paginate with a cursor and report the total', async () => {
      const t = await api.post('/api/v1/templates', { template: 'NAME = pag\nMEMORY = 32\n' });
      await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { multiple: 7, name: 'pag-%i' });
      const ids: number[] = [];
      let after = -1;
      for (;;) {
        const page = await api.get(`/api/v1/vms?limit=4&after=${after}`);
        ids.push(...page.body.items.map((v: { id: number }) => v.id));
        if (page.body.next === null) break;
        after = page.body.next;
      }
      const all = await api.get('/api/v1/vms?limit=0');
      assert.deepEqual(
        ids,
        all.body.items.map((v: { id: number }) => v.id),
      );
      assert.equal(all.body.total, ids.length);
    });

    test('the event stream reports object changes', async () => {
      const ctrl = new AbortController();
      const res = await fetch(`${server.url}/api/v1/events?kinds=template`, {
        headers: { authorization: `Bearer ${api.token}` },
        signal: ctrl.signal,
      });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const created = await api.post('/api/v1/templates', { template: 'NAME = evt\nMEMORY = 32\n' });
      let text = '';
      const deadline = Date.now() + 5000;
      while (!text.includes(`"id":${created.body.id},`) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ctrl.abort();
      assert.match(text, new RegExp(`"kind":"template","op":"create","id":${created.body.id},"revision":1`));
    });

    test('kill -9 and restart: the same objects with the same ids and revisions are there', async () => {
      // Let the scheduler settle first: with no hosts it records a SCHED_MESSAGE on every PENDING VM.
      await waitFor('scheduler settled', async () =>
        ((await api.get('/api/v1/vms?limit=0')).body.items as { state: string; sched_message: string }[]).every(
          (v) => v.state !== 'PENDING' || v.sched_message !== '',
        ),
      );
      const before = await api.get('/api/v1/vms?limit=0');
      const templates = await api.get('/api/v1/templates?limit=0');
      await server.kill9();
      await server.start();
      const again = await Api.login(server.url, 'oneadmin', server.adminPassword);
      const after = await again.get('/api/v1/vms?limit=0');
      assert.deepEqual(
        after.body.items.map((v: { id: number; revision: number; state: string }) => [v.id, v.revision, v.state]),
        before.body.items.map((v: { id: number; revision: number; state: string }) => [v.id, v.revision, v.state]),
      );
      assert.deepEqual((await again.get('/api/v1/templates?limit=0')).body, templates.body);
      // the old token survives the restart too: sessions are persisted
      assert.equal((await api.get('/api/v1/auth/whoami')).status, 200);
      api = again;
    });
  });
}
