import type { SchedulerContext } from './context.js';
import {
  R_ACL,
  R_CLUSTER,
  R_CPU,
  R_CURRENT,
  R_DS_NONE,
  R_DS_REQUIREMENTS,
  R_DS_ROOM,
  R_MAX_HOST,
  R_MEMORY,
  R_NETWORK,
  R_NUMA,
  R_PIN,
  R_REQUIREMENTS,
  R_RUNTIME,
  R_STATE,
  R_VM_GROUP,
  REASON_COUNT,
  REASON_NAMES,
} from './reasons.js';
import type { RejectionReason } from './types.js';
import type { VmRequest } from './vm-request.js';

/** The rejection counts of the last selection, by reason name. */
export function rejections(ctx: SchedulerContext): Partial<Record<RejectionReason, number>> {
  const out: Partial<Record<RejectionReason, number>> = {};
  for (let r = 1; r < REASON_COUNT; r++) {
    const n = ctx.counts[r]!;
    if (n > 0) out[REASON_NAMES[r] as RejectionReason] = n;
  }
  return out;
}

/**
 * The filter that rejected most hosts (the earlier filter on ties), 0 when
 * none did. Host state and cluster only scope the search: they explain the
 * VM only when nothing else rejected a host, so that a VM confined to one
 * cluster hears why that cluster's hosts refused it.
 */
export function dominantReason(counts: Int32Array): number {
  const pick = (scope: boolean): number => {
    let best = 0;
    let most = 0;
    for (let r = 1; r < REASON_COUNT; r++) {
      if (SCOPE.has(r) !== scope) continue;
      if (counts[r]! > most) {
        best = r;
        most = counts[r]!;
      }
    }
    return best;
  };
  const best = pick(false);
  return best !== 0 ? best : pick(true);
}

const SCOPE = new Set([R_STATE, R_CURRENT, R_CLUSTER]);

/**
 * SCHED_MESSAGE for a VM no host accepted, naming the dominant reason, e.g.
 * "no host with 4 free CPUs in cluster edge-paris".
 */
export function unplacedMessage(ctx: SchedulerContext, req: VmRequest, nicFailure: number): string {
  const counts = ctx.counts;
  const reason = dominantReason(counts);
  const total = ctx.hosts.n;
  const where = clusterSuffix(ctx, req);
  switch (reason) {
    case 0:
      return 'no hosts';
    case R_STATE:
      return 'no host is MONITORED';
    case R_CURRENT:
      return 'no host other than its current host';
    case R_MAX_HOST:
      return `every matching host already received MAX_HOST (${ctx.maxHost}) VMs in this cycle`;
    case R_CLUSTER:
      return `no host${where}`;
    case R_ACL:
      return `user ${req.vm.uid} is not authorized to deploy on the matching hosts`;
    case R_RUNTIME:
      return counts[R_RUNTIME] === total
        ? `all hosts lack runtime ${req.runtime}`
        : `no host with runtime ${req.runtime}${where}`;
    case R_CPU:
      return `no host with ${cpuText(req.needCpu)}${where}`;
    case R_MEMORY:
      return `no host with ${mb(req.needMem)} MB free memory${where}`;
    case R_PIN:
      return req.pinned === 1
        ? `no host with PIN_POLICY=PINNED${where} for a pinned VM`
        : `no host${where} accepts VMs without pinning (all have PIN_POLICY=PINNED)`;
    case R_REQUIREMENTS:
      return 'no host matches SCHED_REQUIREMENTS';
    case R_DS_NONE:
      return 'no system datastore available in the hosts’ clusters';
    case R_DS_REQUIREMENTS:
      return 'no system datastore matches SCHED_DS_REQUIREMENTS';
    case R_DS_ROOM:
      return `no system datastore with ${mb((req.ds?.needMb ?? 0) * 1024)} MB free${where}`;
    case R_NETWORK:
      return `no virtual network with a free lease for NIC ${nicFailure} (NETWORK_MODE=auto)`;
    case R_VM_GROUP:
      return `${req.role?.label ?? 'VM group'}: no host satisfies the affinity rules`;
    case R_NUMA:
      return numaText(req);
    default:
      return 'no host fits';
  }
}

function cpuText(cpu: number): string {
  const cores = cpu / 100;
  const text = Number.isInteger(cores) ? String(cores) : cores.toFixed(2).replace(/0+$/, '');
  return `${text} free CPU${cores === 1 ? '' : 's'}`;
}

function mb(kb: number): string {
  const v = kb / 1024;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function clusterSuffix(ctx: SchedulerContext, req: VmRequest): string {
  if (req.clusterIds === null || req.clusterIds.length === 0) return '';
  const names = req.clusterIds.map((id) => ctx.hosts.clusters.get(id)?.name ?? String(id));
  return names.length === 1 ? ` in cluster ${names[0]}` : ` in clusters ${names.join(', ')}`;
}

function numaText(req: VmRequest): string {
  const t = req.topology!;
  const parts = [`${t.nodes.length} NUMA node${t.nodes.length === 1 ? '' : 's'}`, `${t.vcpu} vCPUs`];
  if (t.pinned) parts.push(`PIN_POLICY=${t.pinPolicy}`);
  if (t.hugepageSizeKb > 0) parts.push(`${mb(t.memoryKb)} MB in ${mb(t.hugepageSizeKb)} MB hugepages`);
  if (t.nodeAffinity !== undefined) parts.push(`NODE_AFFINITY=${t.nodeAffinity}`);
  return `no host has free NUMA resources for ${parts.join(', ')}`;
}
