import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';

export function registerSystemRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.get(
    '/health',
    { schema: { tags: ['system'], summary: 'Liveness and version (no authentication)' } },
    async () => ({
      status: 'ok',
      version: ctx.version,
      database: ctx.store.kind,
    }),
  );
  api.get('/openapi.json', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('application/json').send(api.swagger()),
  );
}
