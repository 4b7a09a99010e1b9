import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { getVectors } from '../../core/template/index.js';
import { VM_STATE_NAMES } from '../../core/vm-states.js';
import type { AppContext } from '../app.js';
import { errorResponses, IdParams } from '../schemas.js';

const VncToken = Type.Object({
  token: Type.String({ description: 'single-use; valid for expires_in_ms' }),
  url: Type.String({ description: 'WebSocket path of the console (RFB over binary frames), relative to the API' }),
  expires_in_ms: Type.Integer(),
});

/**
 * `POST /vms/{id}/vnc-token`: a short-lived, single-use token for the VM's
 * VNC console (GRAPHICS=[TYPE=VNC]); the console itself is the WebSocket
 * `GET /vms/{id}/vnc?token=…` served by the console proxy.
 */
export function registerConsoleRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.post<{ Params: { id: number } }>(
    '/vms/:id/vnc-token',
    {
      schema: {
        tags: ['vms'],
        summary: "A token for the VM's VNC console (needs MANAGE on the VM)",
        description:
          'Connect a WebSocket to the returned url (binary frames carry RFB, e.g. noVNC) within expires_in_ms. ' +
          'The front-end relays it through the agent channel, so the host needs no inbound connection.',
        params: IdParams,
        response: { 200: VncToken, ...errorResponses() },
      },
    },
    async (req) => {
      const vm = await ctx.objects.get(req.principal, 'vm', req.params.id, 'manage');
      const consoles = ctx.agents?.consoles;
      if (!consoles) throw new OneError('E_UNAVAILABLE', 'consoles need the agent listener on this front-end');
      if (!getVectors(vm.template, 'GRAPHICS').some((g) => (g.TYPE ?? '').toUpperCase() === 'VNC')) {
        throw new OneError('E_VALIDATION', `VM ${vm.id} has no VNC console: its template needs GRAPHICS=[TYPE=VNC]`, {
          attribute: 'GRAPHICS/TYPE',
        });
      }
      const hostId = vm.body.host_id;
      if (VM_STATE_NAMES[vm.state] !== 'ACTIVE' || hostId === null) {
        throw new OneError('E_VM_ACTION_STATE', `VM ${vm.id} is not running on a host, so it has no console`, {
          state: VM_STATE_NAMES[vm.state],
        });
      }
      const { token, expiresInMs } = consoles.issue(vm.id, hostId);
      return { token, url: `/api/v1/vms/${vm.id}/vnc?token=${token}`, expires_in_ms: expiresInMs };
    },
  );
}
