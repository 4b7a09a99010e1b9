import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { errorResponses } from '../schemas.js';

const TokenRequest = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const TokenResponse = Type.Object({
  token: Type.String(),
  expires_at: Type.Integer({ description: 'ms since the epoch' }),
  user: Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    gid: Type.Integer(),
    groups: Type.Array(Type.Integer()),
    admin: Type.Boolean(),
  }),
});

export function registerAuthRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{ Body: Static<typeof TokenRequest> }>(
    '/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange username and password for a bearer token',
        security: [],
        body: TokenRequest,
        response: { 200: TokenResponse, ...errorResponses() },
      },
    },
    async (req) => {
      const issued = await ctx.sessions.login(req.body.username, req.body.password);
      const p = issued.principal;
      return {
        token: issued.token,
        expires_at: issued.expiresAt,
        user: { id: p.uid, name: p.name, gid: p.gid, groups: [...p.groups], admin: p.admin },
      };
    },
  );
  api.delete(
    '/auth/token',
    { schema: { tags: ['auth'], summary: 'Revoke the token used for this request' } },
    async (req, reply) => {
      await ctx.sessions.logout(req.headers.authorization?.slice('Bearer '.length).trim() ?? '');
      return reply.status(204).send();
    },
  );
  api.get('/auth/whoami', { schema: { tags: ['auth'], summary: 'Who the token belongs to' } }, async (req) => {
    const p = req.principal;
    return { id: p.uid, name: p.name, gid: p.gid, groups: p.groups, admin: p.admin };
  });
}
