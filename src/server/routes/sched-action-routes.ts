import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { REPEAT_NAMES } from '../../core/sched-actions.js';
import type { AppContext } from '../app.js';
import { errorResponses, PoolObjectSchema } from '../schemas.js';
import { sendObject } from './pool-routes.js';

const VmParams = Type.Object({ id: Type.Integer({ minimum: 0 }) });
const SchedParams = Type.Object({ id: Type.Integer({ minimum: 0 }), sa_id: Type.Integer({ minimum: 0 }) });
// Strings first: the validator coerces types, and "+0" must stay a relative time, not become 0.
const NumberOrText = Type.Union([Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 })]);
const SchedActionBody = Type.Object(
  {
    action: Type.String({ maxLength: 64, description: 'VM action: poweroff, resume, terminate, reboot, …' }),
    time: Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 0 })], {
      description: 'epoch seconds, or "+SECONDS" from now',
    }),
    repeat: Type.Optional(
      Type.Union([...REPEAT_NAMES.map((r) => Type.Literal(r)), Type.Integer({ minimum: 0, maximum: 3 })], {
        description: '0 weekly, 1 monthly, 2 yearly, 3 hourly (or the name)',
      }),
    ),
    days: Type.Optional(
      Type.String({ maxLength: 1200, description: 'weekdays 0-6, month days 1-31, year days 0-365, or hours' }),
    ),
    end_type: Type.Optional(NumberOrText),
    end_value: Type.Optional(NumberOrText),
  },
  { additionalProperties: false },
);

/** Scheduled actions of a VM (OpenNebula's SCHED_ACTION; `onevm sched-*`). */
export function registerSchedActionRoutes(api: FastifyInstance, ctx: AppContext): void {
  const schema = (summary: string, extra: object) => ({
    schema: { tags: ['vms'], summary, response: { 200: PoolObjectSchema, ...errorResponses(409) }, ...extra },
  });
  api.post<{ Params: Static<typeof VmParams>; Body: Static<typeof SchedActionBody> }>(
    '/vms/:id/sched-actions',
    schema('Schedule a VM action at a time, once or repeating', { params: VmParams, body: SchedActionBody }),
    async (req, reply) =>
      sendObject(reply, await ctx.vms.addSchedAction(req.principal, req.params.id, schedInput(req.body))),
  );
  api.put<{ Params: Static<typeof SchedParams>; Body: Static<typeof SchedActionBody> }>(
    '/vms/:id/sched-actions/:sa_id',
    schema('Replace a scheduled action', { params: SchedParams, body: SchedActionBody }),
    async (req, reply) =>
      sendObject(
        reply,
        await ctx.vms.updateSchedAction(req.principal, req.params.id, req.params.sa_id, schedInput(req.body)),
      ),
  );
  api.delete<{ Params: Static<typeof SchedParams> }>(
    '/vms/:id/sched-actions/:sa_id',
    schema('Delete a scheduled action', { params: SchedParams }),
    async (req, reply) =>
      sendObject(reply, await ctx.vms.deleteSchedAction(req.principal, req.params.id, req.params.sa_id)),
  );
}

function schedInput(b: Static<typeof SchedActionBody>) {
  return {
    action: b.action,
    time: b.time,
    repeat: b.repeat,
    days: b.days,
    end_type: b.end_type,
    end_value: b.end_value,
  };
}
