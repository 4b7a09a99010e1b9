import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, IfMatchHeaders, PoolObjectSchema, TemplateInputSchema } from '../schemas.js';
import { ifMatch, sendObject } from './pool-routes.js';

const ArParams = Type.Object({ id: Type.Integer({ minimum: 0 }), ar_id: Type.Integer({ minimum: 0 }) });
const AddressBody = Type.Object(
  {
    ip: Type.Optional(Type.String({ description: 'IPv4 address' })),
    ip6: Type.Optional(Type.String({ description: 'static IPv6 address' })),
    mac: Type.Optional(Type.String({ description: 'MAC address' })),
    ar_id: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const ReserveBody = Type.Object(
  {
    size: Type.Integer({ minimum: 1, maximum: 1_048_576, description: 'how many consecutive addresses' }),
    name: Type.String({ minLength: 1, maxLength: 128, description: 'name of the new network' }),
    ar_id: Type.Optional(Type.Integer({ minimum: 0, description: 'take them from this range only' })),
  },
  { additionalProperties: false },
);
const Lease = Type.Object({
  ar_id: Type.Integer(),
  index: Type.Integer(),
  mac: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  ip6: Type.Union([Type.String(), Type.Null()]),
  kind: Type.String({ description: 'vm, hold or reserved' }),
  vm_id: Type.Union([Type.Integer(), Type.Null()]),
  vm_name: Type.Union([Type.String(), Type.Null()]),
  nic_id: Type.Union([Type.Integer(), Type.Null()]),
  reserved_by: Type.Union([Type.Integer(), Type.Null()]),
});

const req = (b: Static<typeof AddressBody>) => ({ ip: b.ip, ip6: b.ip6, mac: b.mac, arId: b.ar_id });

/** `onevnet addar / rmar / updatear / hold / release / reserve` and the lease list. */
export function registerVnetRoutes(api: FastifyInstance, ctx: AppContext): void {
  const tags = ['vnets'];
  api.post<{
    Params: Static<typeof IdParams>;
    Body: Static<typeof TemplateInputSchema>;
    Headers: Static<typeof IfMatchHeaders>;
  }>(
    '/vnets/:id/ars',
    {
      schema: {
        tags,
        summary: 'Add an address range (AR = [TYPE, SIZE, IP, MAC, IP6, GLOBAL_PREFIX, ULA_PREFIX, PREFIX_LENGTH])',
        params: IdParams,
        body: TemplateInputSchema,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) =>
      sendObject(reply, await ctx.nets.addAr(r.principal, r.params.id, r.body, ifMatch(r.headers['if-match']))),
  );
  api.put<{
    Params: Static<typeof ArParams>;
    Body: Static<typeof TemplateInputSchema>;
    Headers: Static<typeof IfMatchHeaders>;
  }>(
    '/vnets/:id/ars/:ar_id',
    {
      schema: {
        tags,
        summary: 'Change an address range (SIZE only while it has leases)',
        params: ArParams,
        body: TemplateInputSchema,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) =>
      sendObject(
        reply,
        await ctx.nets.updateAr(r.principal, r.params.id, r.params.ar_id, r.body, ifMatch(r.headers['if-match'])),
      ),
  );
  api.delete<{ Params: Static<typeof ArParams>; Headers: Static<typeof IfMatchHeaders> }>(
    '/vnets/:id/ars/:ar_id',
    {
      schema: {
        tags,
        summary: 'Remove an address range that has no leases',
        params: ArParams,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) =>
      sendObject(reply, await ctx.nets.rmAr(r.principal, r.params.id, r.params.ar_id, ifMatch(r.headers['if-match']))),
  );
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof AddressBody> }>(
    '/vnets/:id/hold',
    {
      schema: {
        tags,
        summary: 'Hold an address: no NIC gets it until it is released',
        params: IdParams,
        body: AddressBody,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) => sendObject(reply, await ctx.nets.hold(r.principal, r.params.id, req(r.body))),
  );
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof AddressBody> }>(
    '/vnets/:id/release',
    {
      schema: {
        tags,
        summary: 'Release a held address',
        params: IdParams,
        body: AddressBody,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) => sendObject(reply, await ctx.nets.release(r.principal, r.params.id, req(r.body))),
  );
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReserveBody> }>(
    '/vnets/:id/reserve',
    {
      schema: {
        tags,
        summary: 'Reserve consecutive addresses of the network as a new network owned by the caller',
        params: IdParams,
        body: ReserveBody,
        response: { 201: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (r, reply) =>
      sendObject(
        reply,
        await ctx.nets.reserve(r.principal, r.params.id, { size: r.body.size, name: r.body.name, arId: r.body.ar_id }),
        201,
      ),
  );
  api.get<{ Params: Static<typeof IdParams> }>(
    '/vnets/:id/leases',
    {
      schema: {
        tags,
        summary: 'The leases of the network and which VM holds each',
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(Lease) }), ...errorResponses() },
      },
    },
    async (r) => ({ items: await ctx.nets.leases(r.principal, r.params.id) }),
  );
}
