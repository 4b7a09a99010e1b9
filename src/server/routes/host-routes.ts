import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { applyHostEvent, HOST_OPERATOR_ACTIONS, HOST_STATE_NAMES, HOST_STATES } from '../../core/host-states.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, IfMatchHeaders, PoolObjectSchema } from '../schemas.js';
import { ifMatch, sendObject } from './pool-routes.js';

const ActionParams = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  action: Type.Union(HOST_OPERATOR_ACTIONS.map((a) => Type.Literal(a))),
});

const JoinToken = Type.Object({
  token: Type.String(),
  expires_at: Type.Integer(),
  ca_hash: Type.String({ description: 'SHA-256 of the front-end CA certificate; agents pin it' }),
  url: Type.String({ description: 'the agent listener' }),
  command: Type.String({ description: 'what to run on the edge host' }),
});

/**
 * `onehost enable|disable|offline`: operator state changes, driven by the host
 * state machine; join tokens for agents; credential revocation.
 */
export function registerHostRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{ Params: Static<typeof IdParams> }>(
    '/hosts/:id/join-token',
    {
      schema: {
        tags: ['hosts'],
        summary: 'Issue a one-time join token (1 h) for the agent of this host',
        params: IdParams,
        response: { 200: JoinToken, ...errorResponses() },
      },
    },
    async (req) => {
      const agents = requireAgents(ctx);
      await ctx.objects.get(req.principal, 'host', req.params.id, 'admin');
      const { token, expiresAt } = await agents.credentials.issueJoinToken(req.params.id);
      return {
        token,
        expires_at: expiresAt,
        ca_hash: agents.caHash,
        url: agents.agentUrl,
        command: `oneedge agent --join ${agents.agentUrl} --token ${token} --ca-hash ${agents.caHash}`,
      };
    },
  );
  api.post<{ Params: Static<typeof IdParams> }>(
    '/hosts/:id/revoke',
    {
      schema: {
        tags: ['hosts'],
        summary: "Revoke the host's agent credential and close its session",
        params: IdParams,
        response: { 200: PoolObjectSchema, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const agents = requireAgents(ctx);
      await ctx.objects.get(req.principal, 'host', req.params.id, 'admin');
      await agents.credentials.revoke(req.params.id);
      agents.gateway.disconnect(req.params.id, 'credential revoked');
      return sendObject(reply, await ctx.objects.get(req.principal, 'host', req.params.id));
    },
  );

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

function requireAgents(ctx: AppContext): NonNullable<AppContext['agents']> {
  if (!ctx.agents) throw new OneError('E_UNAVAILABLE', 'the agent listener is not running on this front-end');
  return ctx.agents;
}
