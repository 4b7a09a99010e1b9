import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { OneError } from '../../core/errors.js';
import { OBJECT_KINDS, type ObjectKind, type PoolObject } from '../../core/model.js';
import { parsePermissions } from '../../core/permissions.js';
import { renderObjectJson } from '../../core/present.js';
import type { AppContext } from '../app.js';
import {
  ChmodBody,
  ChownBody,
  CreateBody,
  errorResponses,
  IdParams,
  IfMatchHeaders,
  ListBody,
  ListQuerySchema,
  PLURAL,
  PoolObjectSchema,
  RenameBody,
  UpdateBody,
} from '../schemas.js';
import { parseStateFilter } from './state-filter.js';

const DEFAULT_PAGE = 500;

/** Reads `If-Match: 3` or `If-Match: "3"`; undefined when absent. */
export function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined || header === '*') return undefined;
  const n = Number(header.replace(/^W\//, '').replaceAll('"', '').trim());
  if (!Number.isInteger(n) || n < 1) {
    throw new OneError('E_BAD_REQUEST', `If-Match must be an object revision (a positive integer), got '${header}'`);
  }
  return n;
}

export function sendObject(reply: FastifyReply, obj: PoolObject, status = 200): FastifyReply {
  return reply.status(status).header('etag', `"${obj.revision}"`).type('application/json').send(renderObjectJson(obj));
}

/**
 * list / create / show / update / delete / chown / chmod / rename for every
 * kind, one implementation. Kind-specific extras live in their own route files.
 */
export function registerPoolRoutes(api: FastifyInstance, ctx: AppContext): void {
  for (const kind of OBJECT_KINDS) registerKind(api, ctx, kind);
}

function registerKind(api: FastifyInstance, ctx: AppContext, kind: ObjectKind): void {
  const base = `/${PLURAL[kind]}`;
  const tags = [PLURAL[kind]];

  api.get<{ Querystring: Static<typeof ListQuerySchema> }>(
    base,
    {
      schema: {
        tags,
        summary: `List ${PLURAL[kind]} visible to the caller`,
        querystring: ListQuerySchema,
        response: { 200: ListBody, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const limit = q.limit ?? DEFAULT_PAGE;
      const filter = ctx.objects.listQuery(req.principal, {
        ...(q.scope ? { scope: q.scope } : {}),
        ...(q.include_done ? { includeDone: true } : {}),
        ...(q.state ? { state: parseStateFilter(kind, q.state) } : {}),
        ...(q.host_id !== undefined ? { hostId: q.host_id } : {}),
      });
      const [page, total] = await Promise.all([
        ctx.store.objects.listJson(kind, { ...filter, ...(q.after !== undefined ? { after: q.after } : {}), limit }),
        ctx.store.objects.count(kind, filter),
      ]);
      const next = limit > 0 && page.count === limit ? page.lastId : null;
      const body = Buffer.concat([
        Buffer.from('{"items":['),
        page.items,
        Buffer.from(`],"next":${next},"total":${total}}`),
      ]);
      return reply.type('application/json').send(body);
    },
  );

  api.post<{ Body: Static<typeof CreateBody> }>(
    base,
    {
      schema: {
        tags,
        summary: `Create a ${kind}`,
        body: CreateBody,
        response: { 201: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => sendObject(reply, await ctx.objects.create(req.principal, kind, req.body), 201),
  );

  api.get<{ Params: Static<typeof IdParams> }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: `Show one ${kind}`,
        params: IdParams,
        response: { 200: PoolObjectSchema, ...errorResponses() },
      },
    },
    async (req, reply) => {
      const stored = await ctx.store.objects.getJson(kind, req.params.id);
      // Permission check on the stored row itself keeps the hot path to one query and no JSON parsing.
      ctx.objects.authorize(req.principal, kind, req.params.id, stored as PoolObject | undefined, 'use');
      return reply.header('etag', `"${stored?.revision}"`).type('application/json').send(stored?.json);
    },
  );

  api.put<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateBody>; Headers: Static<typeof IfMatchHeaders> }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: `Replace (or with append, merge into) the template of a ${kind}`,
        params: IdParams,
        body: UpdateBody,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const obj = await ctx.objects.updateTemplate(
        req.principal,
        kind,
        req.params.id,
        req.body,
        ifMatch(req.headers['if-match']),
      );
      return sendObject(reply, obj);
    },
  );

  api.delete<{ Params: Static<typeof IdParams>; Headers: Static<typeof IfMatchHeaders> }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: kind === 'vm' ? 'Terminate a VM (like onevm terminate)' : `Delete a ${kind}`,
        params: IdParams,
        headers: IfMatchHeaders,
        response: { ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      await ctx.objects.delete(req.principal, kind, req.params.id, ifMatch(req.headers['if-match']));
      return reply.status(kind === 'vm' ? 202 : 204).send();
    },
  );

  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ChownBody>; Headers: Static<typeof IfMatchHeaders> }>(
    `${base}/:id/chown`,
    {
      schema: {
        tags,
        summary: `Change the owner and/or group of a ${kind}`,
        params: IdParams,
        body: ChownBody,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const rev = ifMatch(req.headers['if-match']);
      if (kind === 'user') {
        if (req.body.uid !== undefined)
          throw new OneError('E_BAD_REQUEST', 'a user owns itself; only its group changes');
        if (req.body.gid !== undefined) await ctx.users.setPrimaryGroup(req.principal, req.params.id, req.body.gid);
        return sendObject(reply, await ctx.objects.get(req.principal, kind, req.params.id));
      }
      return sendObject(reply, await ctx.objects.chown(req.principal, kind, req.params.id, req.body, rev));
    },
  );

  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ChmodBody>; Headers: Static<typeof IfMatchHeaders> }>(
    `${base}/:id/chmod`,
    {
      schema: {
        tags,
        summary: `Change the permissions of a ${kind}`,
        params: IdParams,
        body: ChmodBody,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const perms = parsePermissions(req.body.permissions);
      const obj = await ctx.objects.chmod(req.principal, kind, req.params.id, perms, ifMatch(req.headers['if-match']));
      return sendObject(reply, obj);
    },
  );

  api.post<{
    Params: Static<typeof IdParams>;
    Body: Static<typeof RenameBody>;
    Headers: Static<typeof IfMatchHeaders>;
  }>(
    `${base}/:id/rename`,
    {
      schema: {
        tags,
        summary: `Rename a ${kind}`,
        params: IdParams,
        body: RenameBody,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const obj = await ctx.objects.rename(
        req.principal,
        kind,
        req.params.id,
        req.body.name,
        ifMatch(req.headers['if-match']),
      );
      return sendObject(reply, obj);
    },
  );
}
