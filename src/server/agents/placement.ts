import type { HostFacts } from '../../core/agent-protocol.js';
import { HOST_STATE_NAMES } from '../../core/host-states.js';
import type { PoolObject } from '../../core/model.js';
import { getString } from '../../core/template/index.js';
import { vmGroupRef } from '../../core/vm-groups.js';
import { LCM_STATES, VM_STATES } from '../../core/vm-states.js';
import type { PendingVm, SchedulerSnapshot, SnapshotHost, SnapshotVmGroup } from '../../scheduler/index.js';
import { withNetworkRequirements } from './network-plan.js';

/** Lifecycle phases from which a VM flagged with `resched` may be moved (OpenNebula: RUNNING, UNKNOWN, POWEROFF). */
export function reschedulable(vm: PoolObject<'vm'>): boolean {
  if (!vm.body.resched || vm.body.host_id === null) return false;
  if (vm.state === VM_STATES.POWEROFF) return true;
  return vm.state === VM_STATES.ACTIVE && (vm.lcmState === LCM_STATES.RUNNING || vm.lcmState === LCM_STATES.UNKNOWN);
}

/** VM states whose allocation a host keeps (OpenNebula: charged at PROLOG, freed at EPILOG/undeploy). */
export const HOLDS_CAPACITY = new Set<number>([VM_STATES.ACTIVE, VM_STATES.POWEROFF, VM_STATES.SUSPENDED]);

/** What a VM allocates on its host: CPU ×100 per core, memory in KB (OpenNebula's HOST_SHARE units). */
export function allocation(vm: PoolObject<'vm'>): { cpu: number; memKb: number } {
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
  vmGroups: readonly PoolObject<'vmgroup'>[] = [],
): SchedulerSnapshot {
  const usage = new Map<number, { cpu: number; memKb: number; runningVms: number; vmIds: number[] }>();
  const pending: PendingVm[] = [];
  for (const vm of vms) {
    const waiting = vm.state === VM_STATES.PENDING;
    if (waiting || reschedulable(vm)) {
      const priority = Number(getString(vm.template, 'USER_PRIORITY') ?? '0');
      const runtime = getString(vm.template, 'RUNTIME');
      const current = vm.body.history.at(-1);
      pending.push({
        id: vm.id,
        uid: vm.uid,
        gid: vm.gid,
        template: withNetworkRequirements(vm.template),
        ...(Number.isFinite(priority) ? { userPriority: priority } : {}),
        ...(runtime ? { runtime } : {}),
        ...(waiting ? {} : { resched: true, hostId: vm.body.host_id as number, datastoreId: current?.ds_id ?? 0 }),
        ...groupOf(vm),
      });
      if (waiting) continue;
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
  // Which VMs hold which hardware threads, and how much memory per NUMA node (pinned VMs).
  const pinnedCpus = new Map<number, Map<number, number[]>>();
  const nodeMemKb = new Map<number, Map<number, number>>();
  /** host → "node:sizeKb" → pages reserved by placed VMs. */
  const nodePages = new Map<number, Map<string, number>>();
  for (const vm of vms) {
    const h = vm.body.host_id;
    if (h === null || !HOLDS_CAPACITY.has(vm.state) || !vm.body.numa) continue;
    const cpus = pinnedCpus.get(h) ?? new Map<number, number[]>();
    const mem = nodeMemKb.get(h) ?? new Map<number, number>();
    for (const n of vm.body.numa.nodes) {
      for (const c of n.cpus) cpus.set(c, [...(cpus.get(c) ?? []), vm.id]);
      mem.set(n.memory_node_id, (mem.get(n.memory_node_id) ?? 0) + n.memory_kb);
      if (n.hugepages) {
        const pages = nodePages.get(h) ?? new Map<string, number>();
        const key = `${n.memory_node_id}:${n.hugepages.size_kb}`;
        pages.set(key, (pages.get(key) ?? 0) + n.hugepages.pages);
        nodePages.set(h, pages);
      }
    }
    pinnedCpus.set(h, cpus);
    nodeMemKb.set(h, mem);
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
      ...monitoringOf(h),
      runtimes: facts.runtimes,
      vmIds: u.vmIds,
      ...(facts.numa && facts.numa.length > 0
        ? {
            numa: facts.numa.map((n) => ({
              id: n.id,
              cores: n.cores.map((c) => ({
                id: c.id,
                cpus: c.cpus.map((cpu) => ({ id: cpu, vms: pinnedCpus.get(h.id)?.get(cpu) ?? [] })),
              })),
              // Allocation-based like OpenNebula: what pinned VMs placed on the node, not measured use.
              memory: { totalKb: n.memoryKb, usedKb: nodeMemKb.get(h.id)?.get(n.id) ?? 0 },
              // Allocation-based too: the pages placed VMs reserve are gone, whatever the last probe saw.
              hugepages: n.hugepages.map((p) => ({
                sizeKb: p.sizeKb,
                total: p.total,
                free: Math.max(0, p.total - (nodePages.get(h.id)?.get(`${n.id}:${p.sizeKb}`) ?? 0)),
              })),
              distance: n.distance,
            })),
          }
        : {}),
    });
  }
  return {
    hosts: snapshotHosts,
    vms: pending,
    ...(vmGroups.length > 0 ? { vmGroups: snapshotGroups(vmGroups, vms) } : {}),
  };
}

/**
 * The host's latest pushed usage as OpenNebula's MONITORING attributes
 * (FREE_CPU/USED_CPU ×100, FREE_MEMORY/USED_MEMORY in KB, NETRX/NETTX bytes)
 * plus what the operator's probe scripts printed, for SCHED_REQUIREMENTS,
 * SCHED_RANK and the load-aware policy. A host's template wins over these.
 */
function monitoringOf(h: PoolObject<'host'>): Pick<SnapshotHost, 'monitoring'> {
  const u = h.body.monitoring?.usage;
  if (!u) return {};
  return {
    monitoring: {
      ...u.custom,
      FREE_CPU: u.freeCpu,
      USED_CPU: u.usedCpu,
      FREE_MEMORY: u.freeMemoryKb,
      USED_MEMORY: u.usedMemoryKb,
      NETRX: u.netRxBytes,
      NETTX: u.netTxBytes,
    },
  };
}

function groupOf(vm: PoolObject<'vm'>): Pick<PendingVm, 'vmGroup'> {
  const ref = vmGroupRef(vm.template);
  return ref?.id === undefined ? {} : { vmGroup: { id: ref.id, role: ref.role } };
}

/** VM groups with their roles' members: the live VMs (pending or holding a host) that joined them. */
function snapshotGroups(groups: readonly PoolObject<'vmgroup'>[], vms: readonly PoolObject<'vm'>[]): SnapshotVmGroup[] {
  const members = new Map<string, number[]>();
  for (const vm of vms) {
    if (vm.state !== VM_STATES.PENDING && !HOLDS_CAPACITY.has(vm.state)) continue;
    const ref = vmGroupRef(vm.template);
    if (ref?.id === undefined) continue;
    const key = `${ref.id}/${ref.role}`;
    const list = members.get(key);
    if (list) list.push(vm.id);
    else members.set(key, [vm.id]);
  }
  return groups.map((g) => ({
    id: g.id,
    name: g.name,
    roles: g.body.roles.map((r) => ({
      name: r.name,
      policy: r.policy,
      hostAffined: r.host_affined,
      hostAntiAffined: r.host_anti_affined,
      vmIds: members.get(`${g.id}/${r.name}`) ?? [],
    })),
    affined: g.body.affined,
    antiAffined: g.body.anti_affined,
  }));
}
