import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LoopbackAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

/**
 * VM groups end to end: created through the API, joined by VMs with
 * VMGROUP = [ VMGROUP_NAME, ROLE ], honoured by the scheduler on three
 * loopback hosts (mock runtime).
 */
describe('VM groups', () => {
  let server: TestServer;
  let api: Api;
  const agents: LoopbackAgent[] = [];
  let templates = 0;

  const vm = (id: number) => api.get(`/api/v1/vms/${id}`).then((r) => r.body);
  const running = (id: number) =>
    waitFor(`VM ${id} running`, async () => {
      const v = await vm(id);
      return v.lcm_state === 'RUNNING' ? v : undefined;
    });
  const instantiate = async (role: string, count: number, group = 'edge-proxies'): Promise<number[]> => {
    const t = await api.post('/api/v1/templates', {
      template: `NAME = ${role}-${++templates}\nMEMORY = 16\nCPU = 0.01\nVMGROUP = [ VMGROUP_NAME = "${group}", ROLE = "${role}" ]`,
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const r = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { multiple: count });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.items.map((v: { id: number }) => v.id);
  };

  before(async () => {
    server = await new TestServer({ args: ['--heartbeat', '1', '--agent-host', '127.0.0.1'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    for (let i = 1; i <= 3; i++) {
      const a = new LoopbackAgent();
      agents.push(a);
      await a.join(api, server, `lo-${i}`);
    }
  });
  after(async () => {
    for (const a of agents) await a.dispose();
    await server?.dispose();
  });

  test('a group is created with roles and rules; bad templates name the attribute and position', async () => {
    const g = await api.post('/api/v1/vmgroups', {
      template:
        'NAME = edge-proxies\nROLE = [ NAME = "frontend", POLICY = "ANTI_AFFINED" ]\nROLE = [ NAME = "cache", POLICY = "AFFINED" ]\nANTI_AFFINED = "frontend, cache"',
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    assert.deepEqual(
      g.body.roles.map((r: { name: string; policy: string }) => [r.name, r.policy]),
      [
        ['frontend', 'ANTI_AFFINED'],
        ['cache', 'AFFINED'],
      ],
    );
    assert.deepEqual(g.body.anti_affined, [['frontend', 'cache']]);
    const bad = await api.post('/api/v1/vmgroups', {
      template: 'NAME = bad\nROLE = [ NAME = "a", POLICY = "SOMETIMES" ]',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'E_TEMPLATE_INVALID');
    assert.equal(bad.body.error.details.attribute, 'ROLE[0]/POLICY');
    assert.equal(bad.body.error.details.line, 2);
    const unknownRole = await api.post('/api/v1/vmgroups', {
      template: 'NAME = bad2\nROLE = [ NAME = "a" ]\nAFFINED = "a, b"',
    });
    assert.match(unknownRole.body.error.message, /role 'b' is not defined/);
  });

  test('anti-affined VMs land on three different hosts; a fourth waits with a SCHED_MESSAGE', async () => {
    const ids = await instantiate('frontend', 3);
    const hosts = new Set<number>();
    for (const id of ids) hosts.add((await running(id)).host_id);
    assert.equal(hosts.size, 3, 'one frontend per host');
    const [fourth] = await instantiate('frontend', 1);
    const waiting = await waitFor('the fourth frontend explained', async () => {
      const v = await vm(fourth as number);
      return v.sched_message ? v : undefined;
    });
    assert.equal(waiting.state, 'PENDING');
    assert.match(waiting.sched_message, /group|role|affin/i);
    await api.del(`/api/v1/vms/${fourth}`);
  });

  test('a VM joining a missing role is refused; a group with VMs cannot be deleted or lose a used role', async () => {
    const t = await api.post('/api/v1/templates', {
      template: 'NAME = x\nMEMORY = 16\nVMGROUP = [ VMGROUP_NAME = "edge-proxies", ROLE = "nope" ]',
    });
    const r = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {});
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'E_TEMPLATE_INVALID');
    assert.match(r.body.error.message, /VMGROUP\[0\]\/ROLE: VM group edge-proxies has no role 'nope'/);
    const groups = (await api.get('/api/v1/vmgroups')).body.items as { id: number; name: string }[];
    const g = groups.find((x) => x.name === 'edge-proxies') as { id: number };
    const del = await api.del(`/api/v1/vmgroups/${g.id}`);
    assert.equal(del.status, 409);
    assert.equal(del.body.error.code, 'E_IN_USE');
    const drop = await api.put(`/api/v1/vmgroups/${g.id}`, {
      template: 'NAME = edge-proxies\nROLE = [ NAME = "cache" ]',
    });
    assert.equal(drop.status, 409);
    assert.match(drop.body.error.message, /role 'frontend'/);
  });
});
