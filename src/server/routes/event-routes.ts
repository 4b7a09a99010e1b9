import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { OBJECT_KINDS, type ObjectKind } from '../../core/model.js';
import { hasRight } from '../../core/permissions.js';
import type { AppContext } from '../app.js';
import type { SequencedEvent } from '../events.js';

const EventsQuery = Type.Object({
  kinds: Type.Optional(Type.String({ description: 'comma-separated kinds, e.g. vm,host; default all' })),
});

const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events of object changes the caller may see. Each event names
 * kind, op, id, revision and state; clients re-read the object when they need
 * more. Reconnects with Last-Event-ID resume from the server's backlog; when
 * the backlog no longer reaches back that far the stream starts with a
 * `resync` event telling the client to re-list.
 */
export function registerEventRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.get<{ Querystring: Static<typeof EventsQuery> }>(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Stream of object changes (text/event-stream)',
        querystring: EventsQuery,
      },
    },
    async (req, reply) => {
      const kinds = parseKinds(req.query.kinds);
      const who = req.principal;
      const visible = (e: SequencedEvent) => kinds.has(e.event.kind) && hasRight(who, e.event, 'use');
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const write = (e: SequencedEvent) => {
        if (visible(e)) raw.write(`id: ${e.seq}\nevent: change\ndata: ${e.json}\n\n`);
      };
      raw.write(`retry: 2000\n: connected\n\n`);
      const lastId = Number(req.headers['last-event-id']);
      if (Number.isInteger(lastId) && lastId >= 0) {
        const { events, complete } = ctx.events.since(lastId);
        if (!complete) raw.write(`event: resync\ndata: {"seq":${ctx.events.lastSeq}}\n\n`);
        for (const e of events) write(e);
      }
      const unsubscribe = ctx.events.subscribe(write);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const stop = () => {
        clearInterval(heartbeat);
        unsubscribe();
      };
      raw.on('close', stop);
      raw.on('error', stop);
    },
  );
}

function parseKinds(text: string | undefined): Set<ObjectKind> {
  if (!text) return new Set(OBJECT_KINDS);
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!(OBJECT_KINDS as readonly string[]).includes(k)) {
      throw new OneError('E_VALIDATION', `unknown kind '${k}' in kinds: one of ${OBJECT_KINDS.join(', ')}`, {
        field: 'kinds',
      });
    }
  }
  return new Set(kinds as ObjectKind[]);
}
