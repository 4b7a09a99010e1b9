import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OBJECT_KINDS, type ObjectKind } from '../../core/model.js';
import { stateNames } from '../../core/state-names.js';
import { VM_STATES } from '../../core/vm-states.js';
import type { AppContext } from '../app.js';
import { errorResponses } from '../schemas.js';

/** VM states that hold capacity on their host (OpenNebula charges POWEROFF and SUSPENDED too). */
const CHARGED = [VM_STATES.ACTIVE, VM_STATES.POWEROFF, VM_STATES.SUSPENDED];

const Counts = Type.Record(Type.String(), Type.Integer());

const Summary = Type.Object({
  vms: Type.Object({
    total: Type.Integer({ description: 'VMs not DONE' }),
    by_state: Type.Record(Type.String(), Type.Integer(), {
      description: 'count per state; ACTIVE VMs as ACTIVE/<LCM_STATE>',
    }),
    allocated: Type.Object({
      cpu: Type.Number(),
      vcpu: Type.Number(),
      memory_mb: Type.Number(),
    }),
  }),
  hosts: Type.Object({
    total: Type.Integer(),
    by_state: Counts,
    reporting: Type.Integer({ description: 'hosts whose agent reported its machine' }),
    cpus: Type.Integer({ description: 'CPUs of the reporting hosts' }),
    memory_mb: Type.Integer({ description: 'memory of the reporting hosts' }),
  }),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'visible objects per kind (VMs: not DONE)' }),
});

/**
 * `GET /summary`: what the dashboard shows — VMs and hosts by state, the
 * capacity VMs hold and the hosts' totals, object counts — counted by the
 * database over what the caller may USE (the same filter as the lists), so
 * a dashboard never downloads the VM pool to count it.
 */
export function registerSummaryRoutes(api: FastifyInstance, ctx: AppContext): void {
  api.get(
    '/summary',
    {
      schema: {
        tags: ['system'],
        summary: 'Counts by state, allocated capacity and object counts over the objects the caller may use',
        response: { 200: Summary, ...errorResponses() },
      },
    },
    async (req) => {
      const filter = ctx.objects.listQuery(req.principal, {});
      const [vmStates, hostStates, allocated, hosts, counts] = await Promise.all([
        ctx.store.objects.countByState('vm', filter),
        ctx.store.objects.countByState('host', filter),
        ctx.store.objects.sumVmTemplate(filter, CHARGED, ['CPU', 'VCPU', 'MEMORY'], { VCPU: 1 }),
        ctx.store.objects.sumHostFacts(filter),
        Promise.all(
          OBJECT_KINDS.map(async (k) => [k, await ctx.store.objects.count(k, filter)] as [ObjectKind, number]),
        ),
      ]);
      return {
        vms: {
          total: vmStates.reduce((n, r) => n + r.n, 0),
          by_state: byState('vm', vmStates),
          allocated: { cpu: allocated.CPU ?? 0, vcpu: allocated.VCPU ?? 0, memory_mb: allocated.MEMORY ?? 0 },
        },
        hosts: {
          total: hostStates.reduce((n, r) => n + r.n, 0),
          by_state: byState('host', hostStates),
          reporting: hosts.reporting,
          cpus: hosts.cpus,
          memory_mb: hosts.memoryMb,
        },
        counts: Object.fromEntries(counts),
      };
    },
  );
}

function byState(kind: ObjectKind, rows: { state: number; lcm_state: number; n: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const names = stateNames(kind, r.state, r.lcm_state);
    const key = !names ? String(r.state) : names.state === 'ACTIVE' ? `ACTIVE/${names.lcmState}` : names.state;
    out[key] = (out[key] ?? 0) + r.n;
  }
  return out;
}
