import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { renderObjectJson } from '../../core/present.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, PoolObjectSchema, TemplateInputSchema } from '../schemas.js';
import { sendObject } from './pool-routes.js';

const InstantiateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: '%i becomes the VM index' })),
    multiple: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    hold: Type.Optional(Type.Boolean({ description: 'create on HOLD' })),
    user_inputs: Type.Optional(Type.Record(Type.String(), Type.String())),
    extra: Type.Optional(TemplateInputSchema),
  },
  { additionalProperties: false },
);
const CloneBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

/** `onetemplate instantiate` and `clone`. */
export function registerTemplateRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof InstantiateBody> }>(
    '/templates/:id/instantiate',
    {
      schema: {
        tags: ['templates'],
        summary: 'Create VMs from a template (they wait in PENDING for the scheduler, or HOLD)',
        params: IdParams,
        body: InstantiateBody,
        response: { 201: Type.Object({ items: Type.Array(PoolObjectSchema) }), ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const vms = await ctx.vms.instantiate(req.principal, req.params.id, {
        name: b.name,
        multiple: b.multiple,
        hold: b.hold,
        userInputs: b.user_inputs,
        extra: b.extra,
      });
      return reply
        .status(201)
        .type('application/json')
        .send(`{"items":[${vms.map((v) => renderObjectJson(v)).join(',')}]}`);
    },
  );
  api.post<{ Params: Static<typeof IdParams>; Body: Static<typeof CloneBody> }>(
    '/templates/:id/clone',
    {
      schema: {
        tags: ['templates'],
        summary: 'Copy a template under a new name, owned by the caller',
        params: IdParams,
        body: CloneBody,
        response: { 201: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const src = await ctx.objects.get(req.principal, 'template', req.params.id, 'use');
      const copy = await ctx.objects.create(req.principal, 'template', { name: req.body.name, template: src.template });
      return sendObject(reply, copy, 201);
    },
  );
}
