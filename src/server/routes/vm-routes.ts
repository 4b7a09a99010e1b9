import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { allowedActions, VM_ACTION_LIST } from '../../core/vm-state-machine.js';
import { LCM_STATE_NAMES, VM_STATE_NAMES } from '../../core/vm-states.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams, IfMatchHeaders, PoolObjectSchema } from '../schemas.js';
import { contextOf } from '../services/vm-service.js';
import { followLog } from './log-follow.js';
import { ifMatch, sendObject } from './pool-routes.js';

const ActionParams = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  action: Type.Union(VM_ACTION_LIST.map((a) => Type.Literal(a))),
});
const LogQuery = Type.Object({
  tail: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 4_194_304, description: 'bytes from the end (default 64 KiB)' }),
  ),
  follow: Type.Optional(
    Type.Boolean({
      description:
        'true: stream the log as it grows (application/x-ndjson: {"data"} lines, then {"end"}) until the client disconnects',
    }),
  ),
});
const ActionBody = Type.Union([
  Type.Object(
    {
      host_id: Type.Optional(Type.Integer({ minimum: 0, description: 'deploy / migrate target' })),
      ds_id: Type.Optional(Type.Integer({ minimum: 0, description: 'system datastore' })),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/** Every VM action of the state machine, plus the list of actions allowed now. */
export function registerVmRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{
    Params: Static<typeof ActionParams>;
    Body: Static<typeof ActionBody>;
    Headers: Static<typeof IfMatchHeaders>;
  }>(
    '/vms/:id/actions/:action',
    {
      schema: {
        tags: ['vms'],
        summary: 'Run a VM action (terminate, poweroff, resume, deploy, recover-retry, …)',
        params: ActionParams,
        body: ActionBody,
        headers: IfMatchHeaders,
        response: { 200: PoolObjectSchema, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const body = req.body ?? {};
      const vm = await ctx.vms.action(
        req.principal,
        req.params.id,
        req.params.action,
        { hostId: body.host_id, dsId: body.ds_id },
        ifMatch(req.headers['if-match']),
      );
      return sendObject(reply, vm);
    },
  );
  api.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof LogQuery> }>(
    '/vms/:id/log',
    {
      schema: {
        tags: ['vms'],
        summary:
          "The tail of the VM's console log (workload stdout/stderr), read from its host; follow=true streams it",
        description:
          'With follow=true the answer is a stream of NDJSON lines: {"data": "…", "truncated"?: true} as the ' +
          'workload writes (the first line holds the tail), blank keep-alive lines, and a last {"end": "gone"} when ' +
          'the workload\'s log goes away or {"end": "error", "error": {code, message}} when its host disconnects. ' +
          'It is relayed through the agent channel with bounded buffers and stops when the client disconnects.',
        params: IdParams,
        querystring: LogQuery,
        response: { 200: Type.Object({ data: Type.String(), truncated: Type.Boolean() }), ...errorResponses() },
      },
    },
    async (req, reply) => {
      const vm = await ctx.objects.get(req.principal, 'vm', req.params.id);
      if (!ctx.agents) throw new OneError('E_UNAVAILABLE', 'the agent listener is not running on this front-end');
      const hostId = vm.body.host_id ?? vm.body.history.at(-1)?.host_id;
      if (hostId === undefined || hostId === null) {
        throw new OneError('E_HOST_REQUIRED', `VM ${vm.id} has never run on a host, so it has no log`);
      }
      if (req.query.follow) return followLog(ctx, reply, vm.id, hostId, req.query.tail ?? 65_536);
      return ctx.agents.gateway.readLog(hostId, vm.id, req.query.tail ?? 65_536);
    },
  );
  api.get<{ Params: Static<typeof IdParams> }>(
    '/vms/:id/actions',
    {
      schema: {
        tags: ['vms'],
        summary: 'Actions allowed in the VM’s current state',
        params: IdParams,
        response: { 200: Type.Object({ actions: Type.Array(Type.String()) }), ...errorResponses() },
      },
    },
    async (req) => {
      const vm = await ctx.objects.get(req.principal, 'vm', req.params.id);
      const phase = { state: VM_STATE_NAMES[vm.state], lcm: LCM_STATE_NAMES[vm.lcmState] };
      return { actions: allowedActions(phase as Parameters<typeof allowedActions>[0], contextOf(vm)) };
    },
  );
}
