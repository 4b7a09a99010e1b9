import { type TSchema, Type } from '@sinclair/typebox';
import { ERRORS } from '../core/errors.js';
import { OBJECT_KINDS, type ObjectKind } from '../core/model.js';

/** URL segment of each kind's collection. */
export const PLURAL: Record<ObjectKind, string> = {
  user: 'users',
  group: 'groups',
  cluster: 'clusters',
  host: 'hosts',
  datastore: 'datastores',
  image: 'images',
  vnet: 'vnets',
  secgroup: 'secgroups',
  template: 'templates',
  vm: 'vms',
  vmgroup: 'vmgroups',
};

export const KINDS = OBJECT_KINDS;

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(ERRORS).map((c) => Type.Literal(c))),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: 'Error', description: 'Every error response has this shape; codes come from one registry.' },
);

export const TemplateValue = Type.Union([Type.String(), Type.Record(Type.String(), Type.String())]);
export const TemplateObject = Type.Record(Type.String(), Type.Union([TemplateValue, Type.Array(TemplateValue)]), {
  description: 'Canonical template: upper-case names; repeated names are arrays; vectors are flat string maps.',
});

export const PoolObjectSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    uid: Type.Integer(),
    gid: Type.Integer(),
    uname: Type.String(),
    gname: Type.String(),
    permissions: Type.String({ description: 'octal owner/group/other × use(4)/manage(2)/admin(1), e.g. 640' }),
    revision: Type.Integer({ description: 'send as If-Match to update only this revision' }),
    created_at: Type.Integer({ description: 'ms since the epoch' }),
    updated_at: Type.Integer(),
    state: Type.Optional(Type.String()),
    lcm_state: Type.Optional(Type.String()),
    template: TemplateObject,
  },
  { additionalProperties: true, description: 'A pooled object; kind-specific fields follow the common ones.' },
);

export const ListBody = Type.Object({
  items: Type.Array(PoolObjectSchema),
  next: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as ?after= for the next page' }),
  total: Type.Integer({ description: 'visible objects matching the filter' }),
});

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 0 }) });

export const ListQuerySchema = Type.Object({
  scope: Type.Optional(Type.Union([Type.Literal('mine'), Type.Literal('group'), Type.Literal('all')])),
  after: Type.Optional(Type.Integer({ minimum: -1 })),
  limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: '0 = everything; default 500' })),
  state: Type.Optional(Type.String({ description: 'state name, e.g. PENDING' })),
  include_done: Type.Optional(Type.Boolean()),
  host_id: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const TemplateInputSchema = Type.Object({
  template: Type.Optional(Type.Union([Type.String({ maxLength: 1_048_576 }), TemplateObject])),
  format: Type.Optional(
    Type.Union([Type.Literal('native'), Type.Literal('yaml'), Type.Literal('json'), Type.Literal('auto')]),
  ),
});

export const CreateBody = Type.Intersect([
  TemplateInputSchema,
  Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: true }),
]);

export const UpdateBody = Type.Intersect([
  TemplateInputSchema,
  Type.Object({ append: Type.Optional(Type.Boolean({ description: 'merge into the current template' })) }),
]);

export const ChownBody = Type.Object(
  { uid: Type.Optional(Type.Integer({ minimum: 0 })), gid: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);
export const ChmodBody = Type.Object(
  { permissions: Type.String({ description: '640 or um-u-----' }) },
  { additionalProperties: false },
);
export const RenameBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'the revision the change applies to; 409 when stale' })),
});

export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of [400, 401, 403, 404, ...statuses]) out[s] = ErrorBody;
  return out;
}
