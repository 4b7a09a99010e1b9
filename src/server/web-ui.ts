import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the built web UI lives (web/dist, produced by `npm run build:web`). */
export const WEB_DIST = new URL('../../../web/dist/', import.meta.url).pathname;

/**
 * Serves the single-page web UI at `/` from web/dist. Files are looked up per
 * request (wildcard), so rebuilding the UI needs no restart. Returns the
 * SPA fallback for the not-found handler: index.html for any other GET outside
 * the API, so client-side routes survive a reload; undefined when the UI has
 * not been built.
 */
export async function registerWebUi(
  app: FastifyInstance,
  dir = WEB_DIST,
): Promise<((req: FastifyRequest, reply: FastifyReply) => boolean) | undefined> {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: true, index: ['index.html'] });
  return (req, reply) => {
    const path = req.url.split('?', 1)[0] ?? '';
    if (req.method !== 'GET' || path.startsWith('/api/') || !existsSync(join(dir, 'index.html'))) return false;
    void reply.type('text/html').sendFile('index.html');
    return true;
  };
}
