import { OneError } from '../core/errors.js';
import type { Template, TemplateVector } from '../core/template/types.js';

/**
 * A VM's NUMA request, from TOPOLOGY and NUMA_NODE (OpenNebula
 * `VirtualMachine::parse_topology`, reference §4.1):
 *
 * - PIN_POLICY CORE (a vCPU owns a whole core), THREAD (a vCPU is a hardware
 *   thread), SHARED (vCPUs float over the VM's CPU set), NONE (default).
 * - NONE: SOCKETS×CORES×THREADS must equal VCPU (missing ones default to
 *   1×VCPU×1); NUMA_NODE is dropped, except that HUGEPAGE_SIZE or
 *   NODE_AFFINITY keeps one virtual node holding all vCPUs and memory.
 * - Pinned: CPU becomes VCPU (no overcommit), VCPU_MAX is refused, SOCKETS
 *   defaults to the number of NUMA_NODEs or 1; CORES and THREADS together
 *   must multiply with SOCKETS to VCPU; CORES alone makes THREADS =
 *   VCPU/(CORES·SOCKETS), which must be a power of 2; otherwise the placement
 *   chooses THREADS. Without NUMA_NODEs there are SOCKETS equal nodes
 *   (VCPU and MEMORY must divide evenly); explicit NUMA_NODEs must add up to
 *   VCPU and MEMORY.
 * - HUGEPAGE_SIZE in MB; MEMORY_ACCESS (shared|private) needs hugepages.
 */
export type PinPolicy = 'NONE' | 'CORE' | 'THREAD' | 'SHARED';

export interface VmTopologyRequest {
  readonly pinPolicy: PinPolicy;
  /** True for CORE, THREAD and SHARED: the VM needs a PIN_POLICY=PINNED host. */
  readonly pinned: boolean;
  readonly vcpu: number;
  readonly memoryKb: number;
  readonly sockets: number;
  /** Requested THREADS (0: the placement chooses). */
  readonly threads: number;
  readonly hugepageSizeKb: number;
  readonly memoryAccess?: 'shared' | 'private';
  /** Host NUMA node the VM must use (NODE_AFFINITY, 6.8+). */
  readonly nodeAffinity?: number;
  /** Virtual NUMA nodes to place; empty when the VM needs no NUMA placement. */
  readonly nodes: readonly { readonly totalCpus: number; readonly memoryKb: number }[];
}

const POLICIES: readonly PinPolicy[] = ['NONE', 'CORE', 'THREAD', 'SHARED'];

/**
 * Parses and checks a VM's TOPOLOGY/NUMA_NODE. Returns undefined when the
 * template has neither; throws E_TEMPLATE_INVALID naming the attribute when a
 * rule is broken. Call it at registration; the scheduler calls it again and
 * leaves a VM with an invalid topology pending with the error as its message.
 */
export function parseVmTopology(template: Template): VmTopologyRequest | undefined {
  const topology = vectorOf(template, 'TOPOLOGY');
  const numaNodes = vectorsOf(template, 'NUMA_NODE');
  if (topology === undefined && numaNodes.length === 0) return undefined;
  const t = topology ?? {};
  const vcpu = intAttr(template.VCPU, 'VCPU', 1, 1);
  const memoryMb = intAttr(template.MEMORY, 'MEMORY', 0, 0);
  const policyText = (t.PIN_POLICY ?? 'NONE').toUpperCase();
  if (!POLICIES.includes(policyText as PinPolicy)) {
    throw invalid('TOPOLOGY/PIN_POLICY', `must be CORE, THREAD, SHARED or NONE, not "${t.PIN_POLICY}"`);
  }
  const pinPolicy = policyText as PinPolicy;
  const sockets = optionalInt(t.SOCKETS, 'TOPOLOGY/SOCKETS');
  const cores = optionalInt(t.CORES, 'TOPOLOGY/CORES');
  const threads = optionalInt(t.THREADS, 'TOPOLOGY/THREADS');
  const hugepageMb = optionalInt(t.HUGEPAGE_SIZE, 'TOPOLOGY/HUGEPAGE_SIZE');
  const nodeAffinity = optionalInt(t.NODE_AFFINITY, 'TOPOLOGY/NODE_AFFINITY', 0);
  const access = t.MEMORY_ACCESS?.toLowerCase();
  if (access !== undefined && access !== 'shared' && access !== 'private') {
    throw invalid('TOPOLOGY/MEMORY_ACCESS', `must be shared or private, not "${t.MEMORY_ACCESS}"`);
  }
  if (access !== undefined && hugepageMb === undefined) {
    throw invalid('TOPOLOGY/MEMORY_ACCESS', 'needs TOPOLOGY/HUGEPAGE_SIZE');
  }
  const memoryKb = memoryMb * 1024;
  const base = {
    pinPolicy,
    vcpu,
    memoryKb,
    hugepageSizeKb: (hugepageMb ?? 0) * 1024,
    ...(access === undefined ? {} : { memoryAccess: access as 'shared' | 'private' }),
    ...(nodeAffinity === undefined ? {} : { nodeAffinity }),
  };

  if (pinPolicy === 'NONE') {
    const s = sockets ?? 1;
    const th = threads ?? 1;
    const c = cores ?? vcpu / (s * th);
    if (topology !== undefined && (sockets !== undefined || cores !== undefined || threads !== undefined)) {
      if (!Number.isInteger(c) || s * c * th !== vcpu)
        throw invalid('TOPOLOGY', `SOCKETS×CORES×THREADS (${s}×${c}×${th}) must equal VCPU (${vcpu})`);
    }
    const keepNode = hugepageMb !== undefined || nodeAffinity !== undefined;
    return {
      ...base,
      pinned: false,
      sockets: s,
      threads: threads ?? 0,
      nodes: keepNode ? [{ totalCpus: vcpu, memoryKb }] : [],
    };
  }

  if (template.VCPU_MAX !== undefined) throw invalid('VCPU_MAX', `cannot be used with PIN_POLICY=${pinPolicy}`);
  if (sockets !== undefined && numaNodes.length > 0 && sockets !== numaNodes.length) {
    throw invalid('TOPOLOGY/SOCKETS', `is ${sockets} but the template has ${numaNodes.length} NUMA_NODE`);
  }
  const s = sockets ?? (numaNodes.length > 0 ? numaNodes.length : 1);
  let th = threads ?? 0;
  if (cores !== undefined && threads !== undefined) {
    if (s * cores * threads !== vcpu) {
      throw invalid('TOPOLOGY', `SOCKETS×CORES×THREADS (${s}×${cores}×${threads}) must equal VCPU (${vcpu})`);
    }
  } else if (cores !== undefined) {
    th = vcpu / (cores * s);
    if (!Number.isInteger(th) || th < 1 || (th & (th - 1)) !== 0) {
      throw invalid('TOPOLOGY/CORES', `VCPU/(CORES×SOCKETS) = ${vcpu}/(${cores}×${s}) must be a power of 2`);
    }
  }
  let nodes: { totalCpus: number; memoryKb: number }[];
  if (numaNodes.length > 0) {
    nodes = numaNodes.map((n, i) => ({
      totalCpus: intAttr(n.TOTAL_CPUS, `NUMA_NODE[${i}]/TOTAL_CPUS`, undefined, 1),
      memoryKb: intAttr(n.MEMORY, `NUMA_NODE[${i}]/MEMORY`, undefined, 1) * 1024,
    }));
    const cpus = nodes.reduce((sum, n) => sum + n.totalCpus, 0);
    const mem = nodes.reduce((sum, n) => sum + n.memoryKb, 0);
    if (cpus !== vcpu) throw invalid('NUMA_NODE', `TOTAL_CPUS add up to ${cpus}, not VCPU (${vcpu})`);
    if (mem !== memoryKb) throw invalid('NUMA_NODE', `MEMORY adds up to ${mem / 1024} MB, not MEMORY (${memoryMb})`);
  } else {
    if (vcpu % s !== 0) throw invalid('TOPOLOGY/SOCKETS', `VCPU (${vcpu}) must divide evenly into ${s} NUMA nodes`);
    if (memoryMb % s !== 0)
      throw invalid('TOPOLOGY/SOCKETS', `MEMORY (${memoryMb}) must divide evenly into ${s} NUMA nodes`);
    nodes = Array.from({ length: s }, () => ({ totalCpus: vcpu / s, memoryKb: memoryKb / s }));
  }
  return { ...base, pinned: true, sockets: s, threads: th, nodes };
}

function invalid(attribute: string, problem: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', `${attribute}: ${problem}`, { attribute });
}

function vectorOf(t: Template, name: string): TemplateVector | undefined {
  return vectorsOf(t, name)[0];
}

function vectorsOf(t: Template, name: string): TemplateVector[] {
  const v = t[name];
  if (v === undefined) return [];
  const all = Array.isArray(v) ? v : [v];
  return all.filter((x): x is TemplateVector => typeof x !== 'string');
}

function intAttr(value: unknown, name: string, fallback: number | undefined, min: number): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) {
    if (fallback === undefined) throw invalid(name, 'is required');
    return fallback;
  }
  const n = typeof text === 'string' ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n < min)
    throw invalid(name, `must be an integer of at least ${min}, not "${String(text)}"`);
  return n;
}

function optionalInt(value: string | undefined, name: string, min = 1): number | undefined {
  return value === undefined ? undefined : intAttr(value, name, undefined, min);
}
