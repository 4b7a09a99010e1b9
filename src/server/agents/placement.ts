import type { HostFacts } from '../../core/agent-protocol.js';
import { HOST_STATE_NAMES } from '../../core/host-states.js';
import type { PoolObject } from '../../core/model.js';
import { getString } from '../../core/template/index.js';
import { VM_STATES } from '../../core/vm-states.js';
import type { PendingVm, SchedulerSnapshot, SnapshotHost } from '../../scheduler/index.js';

/** VM states whose allocation a host keeps (OpenNebula: charged at PROLOG, freed at EPILOG/undeploy). */
const HOLDS_CAPACITY = new Set<number>([VM_STATES.ACTIVE, VM_STATES.POWEROFF, VM_STATES.SUSPENDED]);

function allocation(vm: PoolObject<'vm'>): { cpu: number; memKb: number } {
  return {
    cpu: Math.round(Number(getString(vm.template, 'CPU') ?? '1') * 100),
    memKb: Number(getString(vm.template, 'MEMORY') ?? '0') * 1024,
  };
}

/**
 * The scheduler's immutable snapshot, built from the store: hosts that are
 * connected (their agent reported facts), with what the VMs placed on them
 * allocate, and the VMs waiting in PENDING.
 */
export function buildSnapshot(
  hosts: readonly PoolObject<'host'>[],
  vms: readonly PoolObject<'vm'>[],
  isConnected: (hostId: number) => boolean,
): SchedulerSnapshot {
  const usage = new Map<number, { cpu: number; memKb: number; runningVms: number; vmIds: number[] }>();
  const pending: PendingVm[] = [];
  for (const vm of vms) {
    if (vm.state === VM_STATES.PENDING) {
      const priority = Number(getString(vm.template, 'USER_PRIORITY') ?? '0');
      const runtime = getString(vm.template, 'RUNTIME');
      pending.push({
        id: vm.id,
        uid: vm.uid,
        gid: vm.gid,
        template: vm.template,
        ...(Number.isFinite(priority) ? { userPriority: priority } : {}),
        ...(runtime ? { runtime } : {}),
      });
      continue;
    }
    const h = vm.body.host_id;
    if (h === null || !HOLDS_CAPACITY.has(vm.state)) continue;
    const u = usage.get(h) ?? { cpu: 0, memKb: 0, runningVms: 0, vmIds: [] };
    const a = allocation(vm);
    u.cpu += a.cpu;
    u.memKb += a.memKb;
    u.runningVms += 1;
    u.vmIds.push(vm.id);
    usage.set(h, u);
  }
  const snapshotHosts: SnapshotHost[] = [];
  for (const h of hosts) {
    const facts = h.body.facts as HostFacts | null;
    if (!facts || !isConnected(h.id)) continue;
    const u = usage.get(h.id) ?? { cpu: 0, memKb: 0, runningVms: 0, vmIds: [] };
    const reservedCpu = getString(h.template, 'RESERVED_CPU');
    const reservedMem = getString(h.template, 'RESERVED_MEM');
    snapshotHosts.push({
      id: h.id,
      name: h.name,
      state: HOST_STATE_NAMES[h.state] ?? 'INIT',
      clusterId: h.body.cluster_id,
      capacity: { totalCpu: facts.cpus * 100, totalMemKb: facts.memoryMb * 1024 },
      ...(reservedCpu || reservedMem
        ? { reserved: { ...(reservedCpu ? { cpu: reservedCpu } : {}), ...(reservedMem ? { mem: reservedMem } : {}) } }
        : {}),
      usage: { cpu: u.cpu, memKb: u.memKb, runningVms: u.runningVms },
      template: h.template,
      runtimes: facts.runtimes,
      vmIds: u.vmIds,
      ...(facts.numa && facts.numa.length > 0
        ? {
            numa: facts.numa.map((n) => ({
              id: n.id,
              cores: n.cores.map((c) => ({ id: c.id, cpus: c.cpus.map((cpu) => ({ id: cpu })) })),
              // Allocation-based like OpenNebula: nothing is pinned to nodes until pinning lands in the driver.
              memory: { totalKb: n.memoryKb, usedKb: 0 },
              hugepages: n.hugepages,
              distance: n.distance,
            })),
          }
        : {}),
    });
  }
  return { hosts: snapshotHosts, vms: pending };
}
