import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { applyHostEvent, HOST_OPERATOR_ACTIONS, HOST_STATE_NAMES, HOST_STATES } from '../../core/host-states.js';
import type { AppContext } from '../app.js';
import { errorResponses, IfMatchHeaders, PoolObjectSchema } from '../schemas.js';
import { ifMatch, sendObject } from './pool-routes.js';

const ActionParams = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  action: Type.Union(HOST_OPERATOR_ACTIONS.map((a) => Type.Literal(a))),
});

/** `onehost enable|disable|offline`: operator state changes, driven by the host state machine. */
export function registerHostRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{ Params: Static<typeof ActionParams>; Headers: Static<typeof IfMatchHeaders> }>(
    '/hosts/:id/actions/:action',
    {
      schema: {
        tags: ['hosts'],
        summary: 'enable, disable or offline a host',
        params: ActionParams,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const { id, action } = req.params;
      const rev = ifMatch(req.headers['if-match']);
      const host = await ctx.store.objects.transaction(async (tx) => {
        const h = await ctx.objects.mustGetTx(tx, req.principal, 'host', id, 'admin');
        if (rev !== undefined && rev !== h.revision) {
          throw new OneError('E_REVISION_MISMATCH', `host ${id} is at revision ${h.revision}`, {
            revision: h.revision,
          });
        }
        const from = HOST_STATE_NAMES[h.state] ?? 'INIT';
        const t = applyHostEvent(from, action);
        if (!t) return h;
        return tx.update('host', id, h.revision, (o) => ({ ...o, state: HOST_STATES[t.to] }));
      });
      return sendObject(reply, host);
    },
  );
}
