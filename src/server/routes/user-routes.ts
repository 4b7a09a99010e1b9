import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, PoolObjectSchema } from '../schemas.js';
import { sendObject } from './pool-routes.js';

const PasswordBody = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const GroupParams = Type.Object({ id: Type.Integer({ minimum: 0 }), gid: Type.Integer({ minimum: 0 }) });

/** `oneuser passwd`, `addgroup`, `delgroup`, `enable`, `disable`. */
export function registerUserRoutes(api: FastifyInstance, ctx: AppContext): void {
  const tags = ['users'];
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof PasswordBody> }>(
    '/users/:id/password',
    {
      schema: {
        tags,
        summary: "Change a user's password (ends that user's sessions)",
        params: IdParams,
        body: PasswordBody,
        response: { ...errorResponses() },
      },
    },
    async (req, reply) => {
      await ctx.users.setPassword(req.principal, req.params.id, req.body.password);
      return reply.status(204).send();
    },
  );
  for (const [verb, add] of [
    ['put', true],
    ['delete', false],
  ] as const) {
    api[verb]<{ Params: Static<typeof GroupParams> }>(
      '/users/:id/groups/:gid',
      {
        schema: {
          tags,
          summary: add ? 'Add a secondary group' : 'Remove a secondary group',
          params: GroupParams,
          response: { 200: PoolObjectSchema, ...errorResponses(409) },
        },
      },
      async (req, reply) => {
        await ctx.users.changeGroups(req.principal, req.params.id, req.params.gid, add);
        return sendObject(reply, await ctx.objects.get(req.principal, 'user', req.params.id));
      },
    );
  }
  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    api.post<{ Params: Static<typeof IdParams> }>(
      `/users/:id/${action}`,
      {
        schema: {
          tags,
          summary: `${action} a user`,
          params: IdParams,
          response: { 200: PoolObjectSchema, ...errorResponses() },
        },
      },
      async (req, reply) => {
        await ctx.users.setEnabled(req.principal, req.params.id, enabled);
        return sendObject(reply, await ctx.objects.get(req.principal, 'user', req.params.id));
      },
    );
  }
}
