import { OneError } from '../core/errors.js';
import type { LinkedRank, LinkedRequirements } from '../core/expressions/index.js';
import { substituteExpressionVariables } from '../core/expressions/index.js';
import type { Template, TemplateValue } from '../core/template/types.js';
import type { CachedRequirement, SchedulerContext } from './context.js';
import { parseVmTopology, type VmTopologyRequest } from './topology.js';
import type { PendingVm } from './types.js';
import type { RoleState } from './vm-groups.js';

/** An auto NIC (NETWORK_MODE=auto) to match to a network. */
export interface AutoNic {
  readonly nicIndex: number;
  readonly requirement: LinkedRequirements | null;
  readonly rank: LinkedRank;
}

/**
 * A pending VM digested once: capacity in scheduler units, compiled and
 * linked expressions, masks for the cheap filters. `error` is set when the VM
 * cannot be scheduled at all (a malformed expression or topology registered
 * before checks existed): it stays pending with that message.
 */
export interface VmRequest {
  readonly vm: PendingVm;
  readonly id: number;
  readonly priority: number;
  readonly error: string | null;
  /** CPU ×100 and memory KB the VM itself needs. */
  readonly cpu: number;
  readonly memKb: number;
  /** What the capacity filter tests: the VM's own need, or a whole affined set's when it leads one. */
  needCpu: number;
  needMem: number;
  /** Host index the VM runs on (rescheduling), -1 otherwise. */
  readonly currentHost: number;
  readonly clusterIds: readonly number[] | null;
  /** `*` or the cluster ids: with `pinned`, the scope rank orderings are kept per. */
  readonly clusterKey: string;
  readonly clusterMask: Uint8Array | null;
  readonly aclMask: Uint8Array | null;
  readonly runtime: string | null;
  readonly runtimeMask: Uint8Array | null;
  /** 1 when the VM needs a PIN_POLICY=PINNED host. */
  readonly pinned: number;
  readonly requirement: CachedRequirement | null;
  /** Host rank texts and their linked forms (several: normalised and summed). */
  readonly rankTexts: readonly string[];
  readonly ranks: readonly LinkedRank[];
  readonly topology: VmTopologyRequest | null;
  /** Datastore selection; null when the snapshot has no datastores or the VM keeps its own. */
  readonly ds: {
    readonly needMb: number;
    readonly requirement: LinkedRequirements | null;
    readonly rank: LinkedRank;
    readonly acl: Uint8Array | null;
  } | null;
  readonly nics: readonly AutoNic[];
  readonly netAcl: Uint8Array | null;
  readonly differentVnets: boolean;
  readonly role: RoleState | null;
  /** Host index where the VM's group membership is already counted (a rescheduled VM's host), -1 otherwise. */
  readonly recordedAt: number;
  /** Other pending members of the affined sets this VM leads (set just before selecting its host). */
  leading: readonly VmRequest[] | null;
  /** Placed, failed, or dragged along by an affined set's leader. */
  done: boolean;
}

const ZERO_RANK: LinkedRank = { score: () => 0, dynamic: false };

function first(value: TemplateValue | TemplateValue[] | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function num(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : fallback;
}

/** The template attributes the scheduler reads, gathered in one pass (templates have many shapes). */
interface Fields {
  cpu: string | undefined;
  vcpu: string | undefined;
  memory: string | undefined;
  priority: string | undefined;
  requirements: string | undefined;
  rank: string | undefined;
  dsRequirements: string | undefined;
  dsRank: string | undefined;
  differentVnets: string | undefined;
  nic: TemplateValue | TemplateValue[] | undefined;
  numa: boolean;
}

function readFields(t: Template): Fields {
  const f: Fields = {
    cpu: undefined,
    vcpu: undefined,
    memory: undefined,
    priority: undefined,
    requirements: undefined,
    rank: undefined,
    dsRequirements: undefined,
    dsRank: undefined,
    differentVnets: undefined,
    nic: undefined,
    numa: false,
  };
  for (const key in t) {
    switch (key) {
      case 'CPU':
        f.cpu = first(t[key]);
        break;
      case 'VCPU':
        f.vcpu = first(t[key]);
        break;
      case 'MEMORY':
        f.memory = first(t[key]);
        break;
      case 'USER_PRIORITY':
        f.priority = first(t[key]);
        break;
      case 'SCHED_REQUIREMENTS':
        f.requirements = first(t[key]);
        break;
      case 'SCHED_RANK':
        f.rank = first(t[key]);
        break;
      case 'SCHED_DS_REQUIREMENTS':
        f.dsRequirements = first(t[key]);
        break;
      case 'SCHED_DS_RANK':
        f.dsRank = first(t[key]);
        break;
      case 'DIFFERENT_VNETS':
        f.differentVnets = first(t[key]);
        break;
      case 'NIC':
        f.nic = t[key];
        break;
      case 'TOPOLOGY':
      case 'NUMA_NODE':
        f.numa = true;
        break;
    }
  }
  return f;
}

function present(text: string | undefined): text is string {
  return text !== undefined && text.trim() !== '';
}

export function buildRequest(ctx: SchedulerContext, vm: PendingVm): VmRequest {
  const t = vm.template;
  const f = readFields(t);
  const errors: string[] = [];
  const need = <T>(value: T | OneError): T | null => {
    if (value instanceof OneError) {
      errors.push(value.message);
      return null;
    }
    return value;
  };
  const subst = (text: string) =>
    text.includes('$')
      ? substituteExpressionVariables(text, t, { VMID: String(vm.id), UID: String(vm.uid), GID: String(vm.gid) })
      : text;

  let topology: VmTopologyRequest | null = null;
  if (f.numa) {
    try {
      topology = parseVmTopology(t) ?? null;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  const vcpu = num(f.vcpu, 1);
  const pinned = topology?.pinned === true;
  const cpu = Math.round((pinned ? vcpu : num(f.cpu, vcpu)) * 100);
  const memKb = Math.round(num(f.memory, 0) * 1024);

  const requirement = present(f.requirements)
    ? need(ctx.hostRequirement(subst(f.requirements), 'SCHED_REQUIREMENTS'))
    : null;
  let rankTexts = ctx.hostRanks;
  let ranks: readonly LinkedRank[];
  if (present(f.rank)) {
    rankTexts = [subst(f.rank)];
    ranks = [need(ctx.hostRank(rankTexts[0]!, 'SCHED_RANK')) ?? ZERO_RANK];
  } else {
    const defaults = ctx.defaultHostRanks();
    ranks = defaults.every((r) => !(r instanceof OneError))
      ? (defaults as readonly LinkedRank[])
      : defaults.map((r) => need(r) ?? ZERO_RANK);
  }

  const hosts = ctx.hosts;
  const current = vm.resched === true && vm.hostId !== undefined ? (hosts.indexOfId.get(vm.hostId) ?? -1) : -1;
  const clusterIds = vm.clusterIds ?? null;

  let ds: VmRequest['ds'] = null;
  if (ctx.datastores !== null && !(vm.resched === true && vm.datastoreId !== undefined)) {
    const dsRank = present(f.dsRank) ? subst(f.dsRank) : ctx.dsRank;
    ds = {
      needMb: (vm.systemDiskMb ?? 0) + ctx.memorySystemDsScale * num(f.memory, 0),
      requirement: present(f.dsRequirements) ? need(ctx.dsRequirement(subst(f.dsRequirements))) : null,
      rank: need(ctx.dsRankOf(dsRank, 'SCHED_DS_RANK')) ?? ZERO_RANK,
      acl: ctx.dsAcl.maskFor(vm.uid, vm.gid),
    };
  }

  const nics = f.nic === undefined ? [] : autoNics(ctx, f.nic, subst, need, errors);
  const role = ctx.groups.roleFor(vm.id) ?? null;
  return {
    vm,
    id: vm.id,
    priority: vm.userPriority ?? num(f.priority, 0),
    error: errors.length > 0 ? errors[0]! : null,
    cpu,
    memKb,
    needCpu: cpu,
    needMem: memKb,
    currentHost: current,
    clusterIds,
    clusterKey: clusterIds === null ? '*' : clusterIds.join(','),
    clusterMask: clusterIds === null ? null : hosts.clusterMask(clusterIds),
    aclMask: ctx.hostAcl.maskFor(vm.uid, vm.gid),
    runtime: vm.runtime ?? null,
    runtimeMask: vm.runtime === undefined ? null : hosts.runtimeMask(vm.runtime),
    pinned: pinned ? 1 : 0,
    requirement,
    rankTexts,
    ranks,
    topology: topology !== null && topology.nodes.length > 0 ? topology : null,
    ds,
    nics,
    netAcl: nics.length > 0 ? ctx.netAcl.maskFor(vm.uid, vm.gid) : null,
    differentVnets: (f.differentVnets ?? '').toUpperCase() === 'YES',
    role,
    recordedAt: role !== null && current !== -1 && hosts.hosts[current]!.vmIds?.includes(vm.id) === true ? current : -1,
    leading: null,
    done: false,
  };
}

function autoNics(
  ctx: SchedulerContext,
  nicValue: TemplateValue | TemplateValue[],
  subst: (text: string) => string,
  need: <T>(value: T | OneError) => T | null,
  errors: string[],
): AutoNic[] {
  const all = Array.isArray(nicValue) ? nicValue : [nicValue];
  const out: AutoNic[] = [];
  all.forEach((nic, nicIndex) => {
    if (typeof nic === 'string' || (nic.NETWORK_MODE ?? '').toLowerCase() !== 'auto') return;
    // Already given a network (a rescheduled VM keeps its leases).
    if (nic.NETWORK_ID !== undefined) return;
    if (ctx.networks === null) {
      errors.push(`NIC ${nicIndex} has NETWORK_MODE=auto but no virtual networks are known`);
      return;
    }
    const reqText = nic.SCHED_REQUIREMENTS;
    const rankText = nic.SCHED_RANK;
    const rank =
      rankText !== undefined && rankText.trim() !== ''
        ? need(ctx.netRankOf(subst(rankText), `NIC[${nicIndex}]/SCHED_RANK`))
        : need(ctx.netRankOf(ctx.nicRank, 'SCHED_RANK'));
    out.push({
      nicIndex,
      requirement:
        reqText === undefined || reqText.trim() === ''
          ? null
          : need(ctx.netRequirement(subst(reqText), `NIC[${nicIndex}]/SCHED_REQUIREMENTS`)),
      rank: rank ?? ZERO_RANK,
    });
  });
  return out;
}
