import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { errorResponses, PoolObjectSchema, TemplateInputSchema } from '../schemas.js';
import { HotplugService } from '../services/hotplug-service.js';
import { sendObject } from './pool-routes.js';

const VmParams = Type.Object({ id: Type.Integer({ minimum: 0 }) });
const NicParams = Type.Object({ id: Type.Integer({ minimum: 0 }), nic_id: Type.Integer({ minimum: 0 }) });
const DiskParams = Type.Object({ id: Type.Integer({ minimum: 0 }), disk_id: Type.Integer({ minimum: 0 }) });
const DeviceBody = Type.Object(
  {
    template: TemplateInputSchema.properties.template,
    format: TemplateInputSchema.properties.format,
  },
  { additionalProperties: false },
);

/**
 * NIC and disk hot-plug (`onevm nic-attach|nic-detach|disk-attach|disk-detach`).
 * Each answers with the VM as it is after the request: HOTPLUG_NIC / HOTPLUG /
 * HOTPLUG_*_POWEROFF while its host works, or POWEROFF for a NIC change that
 * only edits the template. The result shows later in the VM (state back,
 * ERROR set on failure).
 */
export function registerHotplugRoutes(api: FastifyInstance, ctx: AppContext): void {
  const hotplug = new HotplugService(ctx.store, ctx.objects, ctx.nets);
  const errors = errorResponses(409, 503);

  api.post<{ Params: Static<typeof VmParams>; Body: Static<typeof DeviceBody> }>(
    '/vms/:id/nics',
    {
      schema: {
        tags: ['vms'],
        summary: 'Hot-attach a NIC (onevm nic-attach): template "NIC = [ NETWORK = …, IP = … ]" or {NIC: {…}}',
        description:
          'RUNNING containers: the lease is taken now (IPAM errors refuse the request) and the VM goes to ' +
          'HOTPLUG_NIC until its host has plugged the interface; POWEROFF VMs: the template changes and the next ' +
          'boot wires it. microVM runtimes refuse with E_HOTPLUG_UNSUPPORTED.',
        params: VmParams,
        body: DeviceBody,
        response: { 200: PoolObjectSchema, ...errors },
      },
    },
    async (req, reply) => sendObject(reply, await hotplug.attachNic(req.principal, req.params.id, req.body)),
  );

  api.delete<{ Params: Static<typeof NicParams> }>(
    '/vms/:id/nics/:nic_id',
    {
      schema: {
        tags: ['vms'],
        summary: 'Hot-detach a NIC (onevm nic-detach); its lease is freed once the host removed the interface',
        params: NicParams,
        response: { 200: PoolObjectSchema, ...errors },
      },
    },
    async (req, reply) => sendObject(reply, await hotplug.detachNic(req.principal, req.params.id, req.params.nic_id)),
  );

  api.post<{ Params: Static<typeof VmParams>; Body: Static<typeof DeviceBody> }>(
    '/vms/:id/disks',
    {
      schema: {
        tags: ['vms'],
        summary:
          'Hot-attach a disk (onevm disk-attach): "DISK = [ IMAGE = … ]" or "DISK = [ TYPE = fs, SIZE = 64 ]"; ' +
          'containers see it at /mnt/<TARGET>',
        params: VmParams,
        body: DeviceBody,
        response: { 200: PoolObjectSchema, ...errors },
      },
    },
    async (req, reply) => sendObject(reply, await hotplug.attachDisk(req.principal, req.params.id, req.body)),
  );

  api.delete<{ Params: Static<typeof DiskParams> }>(
    '/vms/:id/disks/:disk_id',
    {
      schema: {
        tags: ['vms'],
        summary: 'Hot-detach a disk (onevm disk-detach): unmounted, copied back to its image if persistent, removed',
        params: DiskParams,
        response: { 200: PoolObjectSchema, ...errors },
      },
    },
    async (req, reply) => sendObject(reply, await hotplug.detachDisk(req.principal, req.params.id, req.params.disk_id)),
  );
}
