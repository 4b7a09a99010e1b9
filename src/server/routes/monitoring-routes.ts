import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams } from '../schemas.js';

const DEFAULT_WINDOW_MS = 3_600_000;
const MAX_ROWS = 10_000;

const SeriesQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch; default: one hour before `to`' })),
  to: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch; default: now' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ROWS, description: 'newest rows kept; default 1000' })),
});

const HostSeriesQuery = Type.Composite([
  SeriesQuery,
  Type.Object({
    kind: Type.Optional(
      Type.String({
        pattern: '^(host|system|datastore)(,(host|system|datastore))*$',
        description: 'host,system,datastore',
      }),
    ),
  }),
]);

const Sample = Type.Object({ ts: Type.Integer(), kind: Type.Optional(Type.String()) }, { additionalProperties: true });

const HostSeries = Type.Object({
  host_id: Type.Integer(),
  from: Type.Integer(),
  to: Type.Integer(),
  items: Type.Array(Sample),
});

const VmSeries = Type.Object({
  vm_id: Type.Integer(),
  from: Type.Integer(),
  to: Type.Integer(),
  current: Type.Union([Sample, Type.Null()], { description: 'the newest usage sample the front-end holds' }),
  items: Type.Array(Sample),
});

function window(q: Static<typeof SeriesQuery>): { from: number; to: number; limit: number } {
  const to = q.to ?? Date.now();
  const from = q.from ?? to - DEFAULT_WINDOW_MS;
  if (from > to) throw new OneError('E_VALIDATION', `from (${from}) is after to (${to})`, { field: 'from' });
  return { from, to, limit: q.limit ?? 1000 };
}

/**
 * Monitoring history (OpenNebula's `onehost monitoring` / `onevm monitoring`):
 * the pushed records stored by the monitor controller, within a time window,
 * for anyone who may USE the host or VM.
 */
export function registerMonitoringRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof HostSeriesQuery> }>(
    '/hosts/:id/monitoring',
    {
      schema: {
        tags: ['hosts'],
        summary: "A host's monitoring records (usage, system, datastore) between from and to",
        params: IdParams,
        querystring: HostSeriesQuery,
        response: { 200: HostSeries, ...errorResponses() },
      },
    },
    async (req) => {
      await ctx.objects.get(req.principal, 'host', req.params.id);
      const w = window(req.query);
      const kinds = req.query.kind?.split(',');
      const rows = await ctx.store.monitoring.hostSeries(req.params.id, w, kinds);
      return {
        host_id: req.params.id,
        from: w.from,
        to: w.to,
        items: rows.map((r) => ({ ts: r.ts, kind: r.kind, ...(JSON.parse(r.data) as object) })),
      };
    },
  );

  api.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof SeriesQuery> }>(
    '/vms/:id/monitoring',
    {
      schema: {
        tags: ['vms'],
        summary: "A VM's usage samples (CPU, memory, network and disk I/O) between from and to",
        params: IdParams,
        querystring: SeriesQuery,
        response: { 200: VmSeries, ...errorResponses() },
      },
    },
    async (req) => {
      await ctx.objects.get(req.principal, 'vm', req.params.id);
      const w = window(req.query);
      const rows = await ctx.store.monitoring.vmSeries(req.params.id, w);
      const items = rows.map((r) => ({ ts: r.ts, host_id: r.host_id, ...(JSON.parse(r.data) as object) }));
      const held = ctx.monitor?.vmUsage(req.params.id);
      const current = held
        ? (({ vmId: _v, hostId, ...rest }) => ({ ...rest, host_id: hostId }))(held)
        : (items.at(-1) ?? null);
      return { vm_id: req.params.id, from: w.from, to: w.to, current, items };
    },
  );
}
