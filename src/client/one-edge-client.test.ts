import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiError } from './api-error.js';
import type { FetchLike } from './http-transport.js';
import { normalizeBaseUrl } from './http-transport.js';
import { OneEdgeClient } from './one-edge-client.js';
import type { StreamEvent } from './types.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (req: Seen) => Response | Promise<Response>;

/** A fetch that records requests and answers from `handler`. */
function fakeFetch(handler: Handler): { fetch: FetchLike; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetch: FetchLike = async (url, init = {}) => {
    const req: Seen = {
      method: init.method ?? 'GET',
      url,
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    seen.push(req);
    return handler(req);
  };
  return { fetch, seen };
}

const json = (data: unknown, status = 200) =>
  new Response(JSON.stringify(data), { status, headers: { 'content-type': 'application/json' } });

function obj(id: number, name: string) {
  return { id, name, uid: 0, gid: 0, uname: 'oneadmin', gname: 'oneadmin', permissions: '600', revision: 1 };
}

describe('normalizeBaseUrl', () => {
  it('accepts the origin, a trailing slash or the /api/v1 suffix', () => {
    assert.equal(normalizeBaseUrl('http://h:2633'), 'http://h:2633');
    assert.equal(normalizeBaseUrl('http://h:2633/'), 'http://h:2633');
    assert.equal(normalizeBaseUrl('http://h:2633/api/v1/'), 'http://h:2633');
    assert.equal(normalizeBaseUrl('https://h/one/api/v1'), 'https://h/one');
  });

  it('refuses what is not an http(s) URL', () => {
    assert.throws(
      () => normalizeBaseUrl('h:2633x'),
      (e: ApiError) => e.code === 'E_VALIDATION',
    );
    assert.throws(
      () => normalizeBaseUrl('ftp://h'),
      (e: ApiError) => e.code === 'E_VALIDATION',
    );
  });
});

describe('OneEdgeClient', () => {
  it('logs in and sends the token as a bearer header', async () => {
    const { fetch, seen } = fakeFetch((req) => {
      if (req.url.endsWith('/auth/token')) {
        return json({
          token: 'tok',
          expires_at: 5,
          user: { id: 0, name: 'oneadmin', gid: 0, groups: [0], admin: true },
        });
      }
      return json({ id: 0, name: 'oneadmin', gid: 0, groups: [0], admin: true });
    });
    const one = await OneEdgeClient.login('http://h:1/api/v1', 'oneadmin', 'pw', { fetch });
    assert.equal(one.token, 'tok');
    assert.equal(one.session?.expires_at, 5);
    await one.whoami();
    assert.deepEqual(seen[0]?.body, { username: 'oneadmin', password: 'pw' });
    assert.equal(seen[0]?.url, 'http://h:1/api/v1/auth/token');
    assert.equal(seen[0]?.headers.authorization, undefined);
    assert.equal(seen[1]?.headers.authorization, 'Bearer tok');
  });

  it('follows next to list every page', async () => {
    const pages: Record<string, unknown> = {
      '': { items: [obj(1, 'a'), obj(2, 'b')], next: 2, total: 5 },
      '2': { items: [obj(3, 'c'), obj(4, 'd')], next: 4, total: 5 },
      '4': { items: [obj(5, 'e')], next: null, total: 5 },
    };
    const { fetch, seen } = fakeFetch((req) => json(pages[new URL(req.url).searchParams.get('after') ?? '']));
    const one = new OneEdgeClient('http://h', 't', { fetch });
    const res = await one.list('vm', { all: true, limit: 2, state: 'PENDING' });
    assert.deepEqual(
      res.items.map((o) => o.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(res.next, null);
    assert.equal(res.total, 5);
    assert.equal(seen.length, 3);
    assert.equal(seen[1]?.url, 'http://h/api/v1/vms?limit=2&state=PENDING&after=2');
  });

  it('returns one page without all', async () => {
    const { fetch, seen } = fakeFetch(() => json({ items: [obj(1, 'a')], next: 1, total: 9 }));
    const res = await new OneEdgeClient('http://h', 't', { fetch }).list('host');
    assert.equal(res.next, 1);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, 'http://h/api/v1/hosts');
  });

  it('sends If-Match with the revision and bodies in the API shape', async () => {
    const { fetch, seen } = fakeFetch(() => json(obj(3, 'x')));
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await one.update('template', 3, { template: 'CPU=1', format: 'native', append: true }, 7);
    await one.chown('vm', 3, { uid: 2, gid: 1 });
    await one.chmod('vm', 3, '640', 2);
    await one.vmAction(3, 'deploy', { host_id: 1 });
    await one.instantiate(3, { multiple: 2, hold: true, user_inputs: { A: '1' } }).catch(() => undefined);
    assert.equal(seen[0]?.method, 'PUT');
    assert.equal(seen[0]?.headers['if-match'], '"7"');
    assert.deepEqual(seen[0]?.body, { template: 'CPU=1', format: 'native', append: true });
    assert.equal(seen[1]?.url, 'http://h/api/v1/vms/3/chown');
    assert.equal(seen[1]?.headers['if-match'], undefined);
    assert.deepEqual(seen[2]?.body, { permissions: '640' });
    assert.equal(seen[3]?.url, 'http://h/api/v1/vms/3/actions/deploy');
    assert.deepEqual(seen[3]?.body, { host_id: 1 });
    assert.deepEqual(seen[4]?.body, { multiple: 2, hold: true, user_inputs: { A: '1' } });
  });

  it('routes user and host actions', async () => {
    const { fetch, seen } = fakeFetch((req) =>
      req.url.endsWith('/password') ? new Response(null, { status: 204 }) : json(obj(1, 'u')),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await one.setPassword(1, 'secret123');
    await one.addGroup(1, 100);
    await one.delGroup(1, 100);
    await one.enableUser(1);
    await one.disableUser(1);
    await one.offlineHost(4);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${new URL(s.url).pathname}`),
      [
        'POST /api/v1/users/1/password',
        'PUT /api/v1/users/1/groups/100',
        'DELETE /api/v1/users/1/groups/100',
        'POST /api/v1/users/1/enable',
        'POST /api/v1/users/1/disable',
        'POST /api/v1/hosts/4/actions/offline',
      ],
    );
  });

  it('throws ApiError with the code, details and status of an error response', async () => {
    const { fetch } = fakeFetch(() =>
      json({ error: { code: 'E_REVISION_MISMATCH', message: 'vm 3 is at revision 4', details: { revision: 4 } } }, 409),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await assert.rejects(one.update('vm', 3, { template: 'A=1' }, 3), (err: ApiError) => {
      assert.equal(err.code, 'E_REVISION_MISMATCH');
      assert.equal(err.status, 409);
      assert.deepEqual(err.details, { revision: 4 });
      return true;
    });
  });

  it('turns a network failure into E_UNAVAILABLE naming the URL', async () => {
    const fetch: FetchLike = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    };
    const one = new OneEdgeClient('http://127.0.0.1:9', 't', { fetch });
    await assert.rejects(one.health(), (err: ApiError) => {
      assert.equal(err.code, 'E_UNAVAILABLE');
      assert.equal(err.status, 0);
      assert.match(err.message, /cannot reach http:\/\/127\.0\.0\.1:9\/api\/v1\/health: ECONNREFUSED/);
      return true;
    });
  });

  it('turns a real refused connection into E_UNAVAILABLE', async () => {
    const one = new OneEdgeClient('http://127.0.0.1:1/', 't');
    await assert.rejects(one.health(), (err: ApiError) => err.code === 'E_UNAVAILABLE');
  });

  it('resolves names to ids, refusing unknown and ambiguous names', async () => {
    const { fetch, seen } = fakeFetch(() =>
      json({ items: [obj(1, 'a'), obj(2, 'b'), obj(3, 'b')], next: null, total: 3 }),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch });
    assert.equal(await one.resolveId('vm', '17'), 17);
    assert.equal(seen.length, 0, 'digits need no lookup');
    assert.equal(await one.resolveId('vm', 'a'), 1);
    await assert.rejects(one.resolveId('vm', 'zz'), (e: ApiError) => e.code === 'E_NOT_FOUND');
    await assert.rejects(
      one.resolveId('vm', 'b'),
      (e: ApiError) => e.code === 'E_VALIDATION' && /ids 2, 3/.test(e.message),
    );
  });

  it('refuses a negative or fractional id before any request', async () => {
    const { fetch, seen } = fakeFetch(() => json({}));
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await assert.rejects(one.get('vm', -1), (e: ApiError) => e.code === 'E_VALIDATION');
    await assert.rejects(one.get('vm', 1.5), (e: ApiError) => e.code === 'E_VALIDATION');
    assert.equal(seen.length, 0);
  });
});

describe('OneEdgeClient.events', () => {
  function sseResponse(text: string): Response {
    return new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }

  it('parses changes and reconnects with Last-Event-ID after the stream ends', async () => {
    const ac = new AbortController();
    const got: StreamEvent[] = [];
    const { fetch, seen } = fakeFetch(() => {
      if (seen.length === 1) {
        return sseResponse(
          'retry: 1\n: connected\n\nid: 4\nevent: change\ndata: {"seq":4,"kind":"vm","op":"update","id":1,"revision":2,"state":"HOLD"}\n\n',
        );
      }
      return sseResponse('event: resync\ndata: {"seq":9}\n\n');
    });
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await one.events(
      ['vm', 'host'],
      (e) => {
        got.push(e);
        if (got.length === 2) ac.abort();
      },
      ac.signal,
    );
    assert.equal(seen[0]?.url, 'http://h/api/v1/events?kinds=vm%2Chost');
    assert.equal(seen[0]?.headers.accept, 'text/event-stream');
    assert.equal(seen[0]?.headers['last-event-id'], undefined);
    assert.equal(seen[1]?.headers['last-event-id'], '4');
    assert.deepEqual(got, [
      { type: 'change', event: { seq: 4, kind: 'vm', op: 'update', id: 1, revision: 2, state: 'HOLD' } },
      { type: 'resync', seq: 9 },
    ]);
  });

  it('throws when the first connection is refused', async () => {
    const { fetch } = fakeFetch(() =>
      json({ error: { code: 'E_UNAUTHENTICATED', message: 'bad token', details: {} } }, 401),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await assert.rejects(
      one.events(undefined, () => undefined, new AbortController().signal),
      (e: ApiError) => e.code === 'E_UNAUTHENTICATED',
    );
  });
});

describe('OneEdgeClient monitoring events and log follow', () => {
  it('asks for monitoring events only when told, and delivers them typed', async () => {
    const ac = new AbortController();
    const got: StreamEvent[] = [];
    const { fetch, seen } = fakeFetch(
      () =>
        new Response(
          'event: monitoring\ndata: {"kind":"vm","vms":[{"id":3,"host_id":1,"ts":1000}]}\n\nid: 9\nevent: change\ndata: {"seq":9,"kind":"vm","op":"update","id":3,"revision":2}\n\n',
          { status: 200, headers: { 'content-type': 'text/event-stream' } },
        ),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch });
    await one.events(['vm'], (e) => got.push(e), ac.signal, { monitoring: true, reconnect: false });
    assert.match(seen[0]?.url ?? '', /\/events\?kinds=vm&monitoring=true$/);
    assert.deepEqual(got[0], { type: 'monitoring', event: { kind: 'vm', vms: [{ id: 3, host_id: 1, ts: 1000 }] } });
    assert.equal(got[1]?.type, 'change');
    await one.events(['vm'], () => undefined, ac.signal, { reconnect: false });
    assert.doesNotMatch(seen[1]?.url ?? '', /monitoring/);
  });

  it('reads a follow stream line by line, across chunk boundaries, to its end', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        const enc = new TextEncoder();
        for (const part of ['{"data":"a\\n","trunc', 'ated":true}\n\n{"da', 'ta":"b €\\n"}\n', '{"end":"gone"}\n']) {
          c.enqueue(enc.encode(part));
        }
        c.close();
      },
    });
    const { fetch, seen } = fakeFetch(() => new Response(body, { status: 200 }));
    const one = new OneEdgeClient('http://h', 't', { fetch });
    const chunks: { data: string; truncated: boolean }[] = [];
    const end = await one.followVmLog(4, (c) => chunks.push(c), new AbortController().signal, { tail: 100 });
    assert.match(seen[0]?.url ?? '', /\/vms\/4\/log\?follow=true&tail=100$/);
    assert.deepEqual(chunks, [
      { data: 'a\n', truncated: true },
      { data: 'b €\n', truncated: false },
    ]);
    assert.deepEqual(end, { end: 'gone' });
  });

  it('rejects with the ApiError of an error line or an error answer', async () => {
    const line = fakeFetch(
      () =>
        new Response('{"data":""}\n{"end":"error","error":{"code":"E_HOST_UNREACHABLE","message":"host 1 left"}}\n', {
          status: 200,
        }),
    );
    const one = new OneEdgeClient('http://h', 't', { fetch: line.fetch });
    await assert.rejects(
      one.followVmLog(4, () => undefined, new AbortController().signal),
      (e: ApiError) => e.code === 'E_HOST_UNREACHABLE' && e.message === 'host 1 left',
    );
    const refused = fakeFetch(() => json({ error: { code: 'E_NOT_FOUND', message: 'no vm 4', details: {} } }, 404));
    const two = new OneEdgeClient('http://h', 't', { fetch: refused.fetch });
    await assert.rejects(
      two.followVmLog(4, () => undefined, new AbortController().signal),
      (e: ApiError) => e.code === 'E_NOT_FOUND' && e.status === 404,
    );
  });
});
