import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { OBJECT_KINDS, type ObjectKind } from '../../core/model.js';
import { hasRight, type Owned } from '../../core/permissions.js';
import type { AppContext } from '../app.js';
import type { SequencedEvent, VmMonitoringBatch } from '../events.js';

const EventsQuery = Type.Object({
  kinds: Type.Optional(Type.String({ description: 'comma-separated kinds, e.g. vm,host; default all' })),
  monitoring: Type.Optional(
    Type.Boolean({
      description:
        'true: also send `monitoring` events ({"kind": "vm", "vms": [{id, host_id, ts}]}) each time usage samples ' +
        'of VMs the caller may see are stored (needs kind vm); they carry no id and are not replayed',
    }),
  ),
});

const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events of object changes the caller may see (and, when asked,
 * of VM monitoring samples stored for VMs the caller may see). Each event names
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
      const unsubscribeMonitoring =
        req.query.monitoring && kinds.has('vm')
          ? ctx.events.subscribeMonitoring((b) => {
              const json = who.admin ? b.json : visibleMonitoring(b, (o) => hasRight(who, o, 'use'));
              if (json) raw.write(`event: monitoring\ndata: ${json}\n\n`);
            })
          : () => {};
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const stop = () => {
        clearInterval(heartbeat);
        unsubscribe();
        unsubscribeMonitoring();
      };
      raw.on('close', stop);
      raw.on('error', stop);
    },
  );
}

/** The part of a monitoring batch a viewer may see, as event JSON; undefined when none. */
export function visibleMonitoring(b: VmMonitoringBatch, may: (o: Owned) => boolean): string | undefined {
  const vms = b.vms.filter((_v, i) => may(b.owners[i] as Owned));
  if (vms.length === 0) return undefined;
  return vms.length === b.vms.length ? b.json : JSON.stringify({ kind: 'vm', vms });
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
