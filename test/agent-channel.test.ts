import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { tlsOptions } from '../src/agent/tls.js';
import { LoopbackAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { BIN, TestServer } from './support/server.js';

const run = promisify(execFile);

function channel(server: TestServer, credential: string, caPem: string): WebSocket {
  return new WebSocket(`wss://127.0.0.1:${server.agentPort}/agent/v1/channel`, {
    headers: { authorization: `Bearer ${credential}` },
    ...tlsOptions({ ca: caPem }),
  });
}

function refusedWith(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
}

describe('agent channel and lifecycle (loopback agent, in-memory runtime)', () => {
  let server: TestServer;
  let api: Api;
  let agent: LoopbackAgent;
  let hostId: number;
  let templateId: number;

  const vm = (id: number) => api.get(`/api/v1/vms/${id}`).then((r) => r.body);
  const phase = async (id: number) => {
    const v = await vm(id);
    return `${v.state}/${v.lcm_state}`;
  };
  const waitPhase = async (id: number, want: string, ms = 20_000) => {
    try {
      await waitFor(`VM ${id} ${want}`, async () => (await phase(id)) === want, ms);
    } catch (err) {
      const v = await vm(id);
      throw new Error(
        `${String(err)}; it is ${v.state}/${v.lcm_state} (${v.sched_message || v.error || 'no message'})`,
      );
    }
  };

  before(async () => {
    server = await new TestServer({
      args: ['--heartbeat', '1', '--agent-host', '127.0.0.1', '--action-timeout', '6'],
    }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    hostId = (await api.post('/api/v1/hosts', { name: 'lo-1' })).body.id;
    const tok = await api.post(`/api/v1/hosts/${hostId}/join-token`);
    assert.equal(tok.status, 200);
    assert.match(tok.body.command, /^oneedge agent --join https:\/\/.+ --token oej_\d+_\S+ --ca-hash [0-9a-f]{64}$/);
    agent = new LoopbackAgent();
    agent.joinWith(server, tok.body.token, tok.body.ca_hash);
    await waitFor('host connected', async () => (await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    templateId = (await api.post('/api/v1/templates', { template: 'NAME = lo\nMEMORY = 16\nCPU = 0.01' })).body.id;
  });
  after(async () => {
    await agent?.dispose();
    await server?.dispose();
  });

  test('the host credential is stored with mode 0600 and the host reports its facts', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(join(agent.stateDir, 'agent.json')).mode & 0o777, 0o600);
    const host = (await api.get(`/api/v1/hosts/${hostId}`)).body;
    assert.equal(host.state, 'MONITORED');
    assert.deepEqual(host.facts.runtimes, ['mock']);
    assert.equal(host.credential_hash, undefined, 'credential hashes never leave the server');
    assert.ok(Number(host.template.TOTALCPU) >= 100);
  });

  test('instantiated VMs are placed and driven to RUNNING; actions go through the agent', async () => {
    const res = await api.post(`/api/v1/templates/${templateId}/instantiate`, { multiple: 3 });
    const ids: number[] = res.body.items.map((v: { id: number }) => v.id);
    for (const id of ids) await waitPhase(id, 'ACTIVE/RUNNING');
    const [a, b, c] = ids as [number, number, number];
    await api.post(`/api/v1/vms/${a}/actions/poweroff`);
    await waitPhase(a, 'POWEROFF/LCM_INIT');
    await api.post(`/api/v1/vms/${a}/actions/resume`);
    await waitPhase(a, 'ACTIVE/RUNNING');
    await api.post(`/api/v1/vms/${b}/actions/reboot`);
    await waitPhase(b, 'ACTIVE/RUNNING');
    await api.post(`/api/v1/vms/${b}/actions/undeploy`);
    await waitPhase(b, 'UNDEPLOYED/LCM_INIT');
    await api.post(`/api/v1/vms/${b}/actions/resume`);
    await waitPhase(b, 'ACTIVE/RUNNING');
    await api.post(`/api/v1/vms/${c}/actions/suspend`);
    await waitPhase(c, 'SUSPENDED/LCM_INIT');
    await api.post(`/api/v1/vms/${c}/actions/resume`);
    await waitPhase(c, 'ACTIVE/RUNNING');
    for (const id of ids) await api.del(`/api/v1/vms/${id}`);
    for (const id of ids) await waitPhase(id, 'DONE/LCM_INIT');
    assert.deepEqual(
      agent.workloads().filter((w) => ids.includes(w.vmId)),
      [],
      'terminated VMs leave nothing in the agent',
    );
  });

  test('the scheduler explains a VM it cannot place and honours SCHED_REQUIREMENTS', async () => {
    const t = await api.post('/api/v1/templates', {
      template: 'NAME = picky\nMEMORY = 16\nCPU = 0.01\nSCHED_REQUIREMENTS = "NAME = \\"late-*\\""',
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const id = (await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {})).body.items[0].id;
    const waiting = await waitFor('SCHED_MESSAGE', async () => {
      const v = await vm(id);
      return v.sched_message ? v : undefined;
    });
    assert.equal(waiting.state, 'PENDING');
    assert.match(waiting.sched_message, /SCHED_REQUIREMENTS/);
    const big = await api.post('/api/v1/templates', { template: 'NAME = huge\nMEMORY = 99999999\nCPU = 0.01' });
    const hugeId = (await api.post(`/api/v1/templates/${big.body.id}/instantiate`, {})).body.items[0].id;
    const noRoom = await waitFor('capacity message', async () => (await vm(hugeId)).sched_message || undefined);
    assert.match(noRoom, /memory|MEMORY|capacity/i);
    const ok = await api.post('/api/v1/templates', {
      template: 'NAME = fits\nMEMORY = 16\nCPU = 0.01\nSCHED_REQUIREMENTS = "NAME = \\"lo-*\\""',
    });
    const okId = (await api.post(`/api/v1/templates/${ok.body.id}/instantiate`, {})).body.items[0].id;
    await waitPhase(okId, 'ACTIVE/RUNNING');
    // A matching host appears: the waiting VM is placed on it at once.
    const late = new LoopbackAgent();
    try {
      const lateHost = await late.join(api, server, 'late-1');
      await waitPhase(id, 'ACTIVE/RUNNING');
      assert.equal((await vm(id)).host_id, lateHost);
      assert.equal((await vm(id)).sched_message, '');
      for (const x of [id, hugeId, okId]) await api.del(`/api/v1/vms/${x}`);
      await waitPhase(id, 'DONE/LCM_INIT');
    } finally {
      await late.dispose();
    }
  });

  test('kill -9 of the front-end while 50 VMs are created: none lost or duplicated, all converge', async () => {
    const res = await api.post(`/api/v1/templates/${templateId}/instantiate`, { multiple: 50, name: 'burst-%i' });
    const ids: number[] = res.body.items.map((v: { id: number }) => v.id);
    await new Promise((r) => setTimeout(r, 150));
    await server.kill9();
    // The agent redials with backoff while the front-end is down; on a loaded machine that can take
    // longer than this suite's short action timeout, which is not what this test is about.
    await server.start(['--action-timeout', '120']);
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    for (const id of ids) await waitPhase(id, 'ACTIVE/RUNNING', 60_000);
    const list = await api.get('/api/v1/vms?limit=0');
    const burst = list.body.items.filter((v: { name: string }) => v.name.startsWith('burst-'));
    assert.equal(burst.length, 50);
    const onAgent = agent.workloads().map((w) => w.vmId);
    assert.deepEqual(
      ids.filter((id) => onAgent.includes(id)),
      ids,
      'every VM has exactly one workload',
    );
    assert.equal(new Set(onAgent).size, onAgent.length);
    for (const id of ids) await api.del(`/api/v1/vms/${id}`);
    for (const id of ids) await waitPhase(id, 'DONE/LCM_INIT', 60_000);
    // Back to the suite's settings for the tests below, once the agent is really back.
    await server.kill9();
    const restarted = Date.now();
    await server.start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    await waitFor('host reconnected', async () => {
      const h = (await api.get(`/api/v1/hosts/${hostId}`)).body;
      return h.connected && h.last_seen >= restarted;
    });
  });

  test('a forged credential and a duplicate session are refused and logged', async () => {
    const { credential, caPem } = agent.identity();
    const forged = `oeh_${hostId}_${'A'.repeat(43)}`;
    assert.equal(await refusedWith(channel(server, forged, caPem)), 401);
    assert.equal(await refusedWith(channel(server, `oeh_999_${'B'.repeat(43)}`, caPem)), 401);
    assert.equal(await refusedWith(channel(server, credential, caPem)), 409, 'the agent is already connected');
    await waitFor(
      'refusals logged',
      async () => /"reason":"forged"/.test(server.logs()) && /duplicate agent session/.test(server.logs()),
    );
  });

  test('a wrong CA hash makes the agent refuse to join; a used join token is refused', async () => {
    const tok = await api.post(`/api/v1/hosts/${hostId}/join-token`);
    const dir = mkdtempSync(join(tmpdir(), 'oneedge-badjoin-'));
    try {
      const wrong = await run(process.execPath, [
        BIN,
        'agent',
        '--state-dir',
        dir,
        '--join',
        `https://127.0.0.1:${server.agentPort}`,
        '--token',
        tok.body.token,
        '--ca-hash',
        'f'.repeat(64),
      ]).catch((e: { code: number; stderr: string }) => e);
      assert.equal((wrong as { code: number }).code, 3);
      assert.match((wrong as { stderr: string }).stderr, /CA hash/);
      const res = await fetch(`https://127.0.0.1:${server.agentPort}/agent/v1/join`, {
        method: 'POST',
        body: JSON.stringify({ token: 'oej_0_notarealtokennotarealtoken' }),
      }).catch(() => null);
      assert.equal(res, null, 'the listener is TLS with a private CA: plain fetch cannot even connect');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a replayed message is dropped: it cannot act twice', async () => {
    const r = await api.post(`/api/v1/templates/${templateId}/instantiate`, {});
    const id = r.body.items[0].id;
    await waitPhase(id, 'ACTIVE/RUNNING');
    await agent.kill9();
    await waitFor('host disconnected', async () => !(await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    const { credential, caPem } = agent.identity();
    const ws = channel(server, credential, caPem);
    await new Promise((res) => ws.once('open', res));
    const welcome = new Promise<{ lastAgentSeq: number }>((res) =>
      ws.once('message', (d) => res(JSON.parse(d.toString()))),
    );
    ws.send(
      JSON.stringify({
        t: 'hello',
        protocol: 1,
        facts: (await api.get(`/api/v1/hosts/${hostId}`)).body.facts,
        workloads: [{ vmId: id, state: 'running' }],
      }),
    );
    const { lastAgentSeq } = await welcome;
    const before = await vm(id);
    // The same sequence number as an already applied message, now claiming the workload stopped.
    ws.send(
      JSON.stringify({
        t: 'event',
        seq: lastAgentSeq,
        vmId: id,
        workload: { vmId: id, state: 'stopped' },
        reason: 'replay',
      }),
    );
    await waitFor('replay logged', async () => /replayed agent message dropped/.test(server.logs()));
    const after = await vm(id);
    assert.equal(`${after.state}/${after.lcm_state}`, 'ACTIVE/RUNNING');
    assert.equal(after.revision, before.revision);
    ws.close();
    await waitFor('host disconnected', async () => !(await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    agent.start();
    await waitFor('agent back', async () => (await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
  });

  test('an action for a host that stays cut off fails clearly after the action timeout', async () => {
    const r = await api.post(`/api/v1/templates/${templateId}/instantiate`, {});
    const id = r.body.items[0].id;
    await waitPhase(id, 'ACTIVE/RUNNING');
    await agent.kill9();
    await waitFor('host disconnected', async () => !(await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    await api.post(`/api/v1/vms/${id}/actions/reboot`);
    await api.post(`/api/v1/vms/${id}/actions/poweroff`);
    const failed = await waitFor(
      'action timed out',
      async () => {
        const v = await vm(id);
        return v.lcm_state === 'RUNNING' && v.error ? v : undefined;
      },
      20_000,
    );
    assert.match(failed.error, /E_HOST_UNREACHABLE: host lo-1 has not been reachable/);
    agent.start();
    await waitFor('agent back', async () => (await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
  });

  test('vm log reads the workload log from the host; a revoked host is cut off and cannot reconnect', async () => {
    const r = await api.post(`/api/v1/templates/${templateId}/instantiate`, {});
    const id = r.body.items[0].id;
    await waitPhase(id, 'ACTIVE/RUNNING');
    const log = await api.get(`/api/v1/vms/${id}/log`);
    assert.equal(log.status, 200, JSON.stringify(log.body));
    assert.equal(typeof log.body.data, 'string');
    const revoked = await api.post(`/api/v1/hosts/${hostId}/revoke`);
    assert.equal(revoked.status, 200);
    await waitFor('host disconnected', async () => !(await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    await waitFor('agent gives up', async () => /refused this host credential/.test(agent.output), 15_000);
    const { credential, caPem } = agent.identity();
    assert.equal(await refusedWith(channel(server, credential, caPem)), 401);
    const offline = await api.get(`/api/v1/vms/${id}/log`);
    assert.equal(offline.status, 503);
    assert.equal(offline.body.error.code, 'E_HOST_UNREACHABLE');
  });
});
