import type { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, PoolObjectSchema } from '../schemas.js';
import { checkName } from '../services/object-service.js';
import { sendObject } from './pool-routes.js';

const IMAGE_ACTIONS = ['persistent', 'nonpersistent', 'enable', 'disable'] as const;
const ActionParams = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  action: Type.Union(IMAGE_ACTIONS.map((a) => Type.Literal(a))),
});
const CloneBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    datastore_id: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const DiskParams = Type.Object({ id: Type.Integer({ minimum: 0 }), disk_id: Type.Integer({ minimum: 0 }) });
const SaveAsBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
const ContentHeaders = Type.Object({
  'content-length': Type.Optional(Type.Integer({ minimum: 0 })),
  'x-content-sha256': Type.Optional(Type.String({ description: 'expected sha256 (hex); refused when it differs' })),
});
const Transfers = Type.Object({
  image_id: Type.Integer(),
  hosts: Type.Array(
    Type.Object({
      host_id: Type.Integer(),
      requests: Type.Integer(),
      bytes: Type.Integer(),
      uploads: Type.Integer(),
      upload_bytes: Type.Integer(),
    }),
  ),
});

/**
 * Image content and image actions: streaming upload (no buffering: the
 * octet-stream body reaches the datastore driver as a stream), clone,
 * persistent/nonpersistent, enable/disable, and per-host transfer counters.
 */
export function registerImageRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  api.put<{ Params: Static<typeof IdParams>; Headers: Static<typeof ContentHeaders> }>(
    '/images/:id/content',
    {
      schema: {
        tags: ['images'],
        summary: 'Upload the content of a new image (raw body, application/octet-stream)',
        description:
          'Streams the body into the image datastore; sha256 is computed while streaming. Refused before the ' +
          'first byte when Content-Length exceeds the free space (E_DATASTORE_FULL). A failed upload leaves the ' +
          'image in ERROR with the reason and no file.',
        params: IdParams,
        headers: ContentHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409, 413, 422, 507) },
      },
    },
    async (req, reply) => {
      const body = req.body as Readable | undefined;
      if (!body || typeof (body as Readable).pipe !== 'function') {
        throw new OneError('E_BAD_REQUEST', 'send the image content with Content-Type: application/octet-stream');
      }
      const image = await ctx.images.upload(
        req.principal,
        req.params.id,
        body,
        req.headers['content-length'],
        req.headers['x-content-sha256'],
      );
      return sendObject(reply, image);
    },
  );

  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof CloneBody> }>(
    '/images/:id/clone',
    {
      schema: {
        tags: ['images'],
        summary: 'Clone an image (a new non-persistent image with a copy of the content)',
        params: IdParams,
        body: CloneBody,
        response: { 201: PoolObjectSchema, ...errorResponses(409, 507) },
      },
    },
    async (req, reply) => {
      const name = checkName(req.body.name);
      return sendObject(reply, await ctx.images.clone(req.principal, req.params.id, name, req.body.datastore_id), 201);
    },
  );

  api.post<{ Params: Static<typeof ActionParams> }>(
    '/images/:id/actions/:action',
    {
      schema: {
        tags: ['images'],
        summary: 'persistent | nonpersistent | enable | disable',
        params: ActionParams,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const { id, action } = req.params;
      const who = req.principal;
      const obj =
        action === 'persistent' || action === 'nonpersistent'
          ? await ctx.images.setPersistent(who, id, action === 'persistent')
          : await ctx.images.setEnabled(who, id, action === 'enable');
      return sendObject(reply, obj);
    },
  );

  api.post<{ Params: Static<typeof DiskParams>; Body: Static<typeof SaveAsBody> }>(
    '/vms/:id/disks/:disk_id/saveas',
    {
      schema: {
        tags: ['vms'],
        summary: "Save a VM's disk as a new image (onevm disk-saveas); the image is LOCKED until the host uploaded it",
        params: DiskParams,
        body: SaveAsBody,
        response: { 201: PoolObjectSchema, ...errorResponses(409, 503) },
      },
    },
    async (req, reply) => {
      const agents = ctx.agents;
      if (!agents) throw new OneError('E_UNAVAILABLE', 'the agent listener is not running on this front-end');
      const image = await ctx.images.saveAs(
        req.principal,
        req.params.id,
        req.params.disk_id,
        req.body.name,
        (hostId, imageId, disk) => agents.gateway.saveDisk(hostId, req.params.id, imageId, disk),
      );
      return sendObject(reply, image, 201);
    },
  );

  api.get<{ Params: Static<typeof IdParams> }>(
    '/images/:id/transfers',
    {
      schema: {
        tags: ['images'],
        summary: 'How often and how many bytes of this image each host downloaded (since the front-end started)',
        params: IdParams,
        response: { 200: Transfers, ...errorResponses() },
      },
    },
    async (req) => {
      await ctx.objects.get(req.principal, 'image', req.params.id);
      return { image_id: req.params.id, hosts: ctx.agents?.gateway.transfers(req.params.id) ?? [] };
    },
  );
}
