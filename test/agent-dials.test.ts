import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ResumingTls, tlsOptions } from '../src/agent/tls.js';
import { LoopbackAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

/**
 * How the agent listener copes with many agents dialling at once: dials being
 * set up beyond `--agent-max-connecting` are told to come back later (503 +
 * Retry-After) and the agent does; TLS sessions resume, also after a
 * front-end restart (its ticket keys are kept in the PKI dir).
 */
describe('agent dials: load shedding and TLS session resumption', () => {
  let server: TestServer;
  let api: Api;
  const agents: LoopbackAgent[] = [];

  const dial = (credential: string, caPem: string, tls?: ResumingTls) =>
    new WebSocket(`wss://127.0.0.1:${server.agentPort}/agent/v1/channel`, {
      headers: { authorization: `Bearer ${credential}` },
      ...tlsOptions({ ca: caPem }),
      ...(tls ? { createConnection: tls.connect as never } : {}),
    });
  /** The HTTP status a dial ends with (101 when it opens), and its Retry-After. */
  const outcome = (ws: WebSocket) =>
    new Promise<{ status: number; retryAfter?: string | undefined }>((resolve) => {
      ws.on('unexpected-response', (_req, res) =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }),
      );
      ws.on('open', () => resolve({ status: 101 }));
      ws.on('error', () => undefined);
    });
  const metric = async (name: string): Promise<number> => {
    const r = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${api.token}` },
    });
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await r.text());
    return Number(m?.[1] ?? Number.NaN);
  };

  before(async () => {
    server = await new TestServer({ args: ['--heartbeat', '1', '--agent-max-connecting', '1'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    for (let i = 0; i < 3; i++) {
      const a = new LoopbackAgent();
      agents.push(a);
      const hostId = await a.join(api, server, `dial-${i}`);
      await waitFor(`host ${hostId} connected`, async () => (await api.get(`/api/v1/hosts/${hostId}`)).body.connected);
    }
  });
  after(async () => {
    for (const a of agents) await a.dispose();
    await server?.dispose();
  });

  test('a dial beyond the limit gets 503 with Retry-After; the agent comes back and connects', async () => {
    const [, a1, a2] = agents as [LoopbackAgent, LoopbackAgent, LoopbackAgent];
    const { credential, caPem } = a1.identity();
    for (const a of [a1, a2]) {
      await a.kill9();
      const id = a.identity().hostId;
      await waitFor(`host ${id} disconnected`, async () => !(await api.get(`/api/v1/hosts/${id}`)).body.connected);
    }
    // A session that upgraded but never says hello holds the only slot.
    const holder = dial(credential, caPem);
    assert.equal((await outcome(holder)).status, 101);
    const second = await outcome(dial(a2.identity().credential, caPem));
    assert.equal(second.status, 503);
    assert.ok(Number(second.retryAfter) >= 2, `Retry-After ${second.retryAfter}`);
    assert.ok((await metric('oneedge_agent_dials_total')) >= 1);
    holder.terminate();
    // The real agents, refused the same way while the other one is being set up, come back and get in.
    a1.start();
    a2.start();
    for (const a of [a1, a2]) {
      const id = a.identity().hostId;
      await waitFor(`host ${id} back`, async () => (await api.get(`/api/v1/hosts/${id}`)).body.connected, 60_000);
    }
  });

  test('TLS sessions resume, also after the front-end restarts', async () => {
    const { caPem } = (agents[0] as LoopbackAgent).identity();
    const tls = new ResumingTls();
    // A credential the listener refuses still completes TLS first: enough to see resumption.
    const bogus = 'oeh_999_'.padEnd(51, 'x');
    await outcome(dial(bogus, caPem, tls));
    assert.equal(tls.resumed, false, 'the first handshake is a full one');
    await outcome(dial(bogus, caPem, tls));
    assert.equal(tls.resumed, true, 'the second resumes');
    await server.kill9();
    await server.start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    await outcome(dial(bogus, caPem, tls));
    assert.equal(tls.resumed, true, 'the restarted front-end still accepts the ticket');
    // The agents reconnect to the restarted front-end with resumed sessions.
    for (const a of agents) {
      const { hostId } = a.identity();
      await waitFor(
        `host ${hostId} back`,
        async () => (await api.get(`/api/v1/hosts/${hostId}`)).body.connected,
        60_000,
      );
    }
    assert.ok((await metric('oneedge_agent_tls_resumed_total')) >= 1, 'agents resumed their sessions');
  });
});
