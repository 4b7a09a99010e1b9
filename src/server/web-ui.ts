import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the built web UI lives (web/dist, produced by `npm run build:web`). */
export const WEB_DIST = new URL('../../../web/dist/', import.meta.url).pathname;

/**
 * Serves the single-page web UI at `/`: static assets from web/dist, and
 * index.html for any other non-API path so client-side routes survive a
 * reload. Does nothing when the UI has not been built.
 */
export async function registerWebUi(app: FastifyInstance, dir = WEB_DIST): Promise<boolean> {
  if (!existsSync(join(dir, 'index.html'))) return false;
  await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: ['index.html'] });
  app.get('/*', { schema: { hide: true } }, (req, reply) => {
    if (req.url.startsWith('/api/')) {
      return reply.callNotFound();
    }
    return reply.sendFile('index.html');
  });
  return true;
}
