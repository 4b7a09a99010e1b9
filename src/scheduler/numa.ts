import type { VmTopologyRequest } from './topology.js';
import type { HostNumaNode, NumaNodePlacement, NumaPlacement } from './types.js';

/*
 * NUMA placement over one host (OpenNebula `HostShareNUMA.cc`, reference §4.3).
 *
 * A host's live NUMA state is copied from the snapshot the first time a VM is
 * tried on it and is then updated by every placement in this call.
 *
 * Pinned VMs (CORE, THREAD, SHARED):
 *  1. Threads-per-core candidates t: CORE → {1}; otherwise the powers of 2
 *     up to min(requested THREADS, host threads per core) that divide every
 *     virtual node's TOTAL_CPUS; a requested THREADS must be one of them.
 *  2. From the largest t, place the virtual nodes in order. For each host node:
 *     free groups (CORE: cores with no VM and not fully isolated; else
 *     Σ floor(usable threads of the core / t)) less what this VM already took;
 *     free memory; free hugepages of the size. A CPU candidate has
 *     groups·t ≥ TOTAL_CPUS and scores 1 − TOTAL_CPUS/(t·groups); a memory
 *     candidate has the memory (and pages).
 *  3. CPU candidates by score, highest first (ties: higher node id, as
 *     OpenNebula's reversed sort); for hop 0, 1, … the hop-th node of the
 *     candidate's distance list; the first memory candidate wins.
 *  4. CORE takes the first usable thread of each free core and marks the core
 *     dedicated; THREAD/SHARED take up to floor(usable/t)·t threads per core.
 *     A thread holds up to VMS_THREAD VMs. Memory and pages are charged on the
 *     memory node.
 * Unpinned VMs with hugepages go to the node with the most free pages that
 * has the memory; NODE_AFFINITY forces one node. Both float over all of the
 * node's non-isolated CPUs without taking them.
 *
 * Differences from OpenNebula, all towards never placing what cannot be
 * allocated: the scheduler's test tracks the VM's own earlier virtual nodes
 * (OpenNebula's test mode checks each node against the untouched host);
 * a thread counts as usable only while it has fewer than VMS_THREAD VMs (so a
 * VM never needs the same thread twice); CORE skips an isolated first thread.
 *
 * The state is flat typed arrays and the test allocates nothing: it runs for
 * every host a pinned VM is tried on.
 */

export interface NumaNodeState {
  readonly id: number;
  readonly totalMemKb: number;
  usedMemKb: number;
  /** Hugepages by size in KB. */
  readonly pages: Map<number, { total: number; used: number }>;
  /** Node indices (not ids) by distance, closest first. */
  readonly distance: Int32Array;
  /** Core c owns threads coreStart[c] … coreStart[c+1]-1. */
  readonly coreStart: Int32Array;
  readonly dedicated: Uint8Array;
  readonly cpuIds: Int32Array;
  /** VMs pinned per thread. */
  readonly vms: Int32Array;
  /** 1 = isolated thread. */
  readonly isolated: Uint8Array;
  tmpCpus: number;
  tmpMem: number;
  tmpPages: number;
}

export class HostNumaState {
  readonly threadsPerCore: number;
  readonly indexOfId = new Map<number, number>();
  /** Scratch for one node choice. */
  readonly fitScore: Float64Array;
  readonly fitNode: Int32Array;
  readonly memFit: Uint8Array;
  cpuChoice = new Int32Array(4);
  memChoice = new Int32Array(4);

  constructor(
    readonly nodes: readonly NumaNodeState[],
    readonly vmsThread: number,
  ) {
    nodes.forEach((n, i) => {
      this.indexOfId.set(n.id, i);
    });
    const first = nodes[0];
    this.threadsPerCore =
      first !== undefined && first.coreStart.length > 1 ? first.coreStart[1]! - first.coreStart[0]! : 0;
    this.fitScore = new Float64Array(nodes.length);
    this.fitNode = new Int32Array(nodes.length);
    this.memFit = new Uint8Array(nodes.length);
  }
}

function sortedById<T extends { readonly id: number }>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++)
    if (items[i]!.id < items[i - 1]!.id) return [...items].sort((a, b) => a.id - b.id);
  return items;
}

/** A mutable copy of a host's probed topology; `isolcpus` adds to the per-thread isolated flags. */
export function buildNumaState(
  nodes: readonly HostNumaNode[],
  vmsThread: number,
  isolcpus: ReadonlySet<number>,
): HostNumaState {
  const sorted = sortedById(nodes);
  const index = new Map(sorted.map((n, i) => [n.id, i]));
  const states = sorted.map((n, i): NumaNodeState => {
    const cores = sortedById(n.cores);
    const coreStart = new Int32Array(cores.length + 1);
    let threads = 0;
    cores.forEach((c, k) => {
      coreStart[k] = threads;
      threads += c.cpus.length;
    });
    coreStart[cores.length] = threads;
    const cpuIds = new Int32Array(threads);
    const vms = new Int32Array(threads);
    const isolated = new Uint8Array(threads);
    const dedicated = new Uint8Array(cores.length);
    cores.forEach((c, k) => {
      dedicated[k] = c.dedicated === true ? 1 : 0;
      const cpus = sortedById(c.cpus);
      for (let j = 0; j < cpus.length; j++) {
        const cpu = cpus[j]!;
        const at = coreStart[k]! + j;
        cpuIds[at] = cpu.id;
        vms[at] = cpu.vms?.length ?? 0;
        isolated[at] = cpu.isolated === true || isolcpus.has(cpu.id) ? 1 : 0;
      }
    });
    const pages = new Map<number, { total: number; used: number }>();
    for (const p of n.hugepages ?? []) pages.set(p.sizeKb, { total: p.total, used: p.total - p.free });
    const distanceIds = n.distance ?? [n.id, ...sorted.filter((o) => o.id !== n.id).map((o) => o.id)];
    const distance = Int32Array.from(
      distanceIds.filter((id) => index.has(id)),
      (id) => index.get(id)!,
    );
    return {
      id: n.id,
      totalMemKb: n.memory.totalKb,
      usedMemKb: n.memory.usedKb,
      pages,
      distance: distance.length > 0 ? distance : Int32Array.of(i),
      coreStart,
      dedicated,
      cpuIds,
      vms,
      isolated,
      tmpCpus: 0,
      tmpMem: 0,
      tmpPages: 0,
    };
  });
  return new HostNumaState(states, Math.max(1, vmsThread));
}

/** Whether the VM's NUMA request fits the host now. Changes nothing. */
export function numaFits(state: HostNumaState, req: VmTopologyRequest): boolean {
  if (req.nodeAffinity !== undefined) {
    const i = state.indexOfId.get(req.nodeAffinity);
    return i !== undefined && floatFits(state.nodes[i]!, req);
  }
  if (req.hugepageSizeKb > 0 && !req.pinned) return hugepageNode(state, req) !== -1;
  return pinnedThreads(state, req) !== 0;
}

/** Makes the VM's NUMA placement on the host and charges it; null when it does not fit. */
export function placeNuma(state: HostNumaState, req: VmTopologyRequest): NumaPlacement | null {
  if (req.nodeAffinity !== undefined) {
    const i = state.indexOfId.get(req.nodeAffinity);
    return i === undefined ? null : floatOn(state, i, req);
  }
  if (req.hugepageSizeKb > 0 && !req.pinned) {
    const i = hugepageNode(state, req);
    return i === -1 ? null : floatOn(state, i, req);
  }
  const t = pinnedThreads(state, req);
  if (t === 0) return null;
  const dedicated = req.pinPolicy === 'CORE';
  const hp = req.hugepageSizeKb;
  const nodes = req.nodes.map((vn, k) => {
    const cpuNode = state.nodes[state.cpuChoice[k]!]!;
    const memNode = state.nodes[state.memChoice[k]!]!;
    const cpus = dedicated ? takeCores(cpuNode, vn.totalCpus) : takeThreads(cpuNode, vn.totalCpus, t, state.vmsThread);
    memNode.usedMemKb += vn.memoryKb;
    const pages = hp > 0 ? memNode.pages.get(hp) : undefined;
    if (pages !== undefined) pages.used += Math.floor(vn.memoryKb / hp);
    return nodePlacement(cpuNode.id, memNode.id, vn, cpus, hp);
  });
  return {
    pinPolicy: req.pinPolicy,
    sockets: req.sockets,
    threads: t,
    cores: Math.floor(req.vcpu / (t * req.sockets)),
    nodes,
  };
}

function freeMem(node: NumaNodeState): number {
  return node.totalMemKb - node.usedMemKb;
}

function floatFits(node: NumaNodeState, req: VmTopologyRequest): boolean {
  const fm = freeMem(node);
  if (fm <= 0 || fm < req.memoryKb) return false;
  const hp = req.hugepageSizeKb;
  if (hp === 0) return true;
  const pages = node.pages.get(hp);
  if (pages === undefined) return false;
  const free = pages.total - pages.used;
  return free > 0 && free >= Math.floor(req.memoryKb / hp);
}

/** Memory and hugepages on one node for a VM whose vCPUs float over the whole node. */
function floatOn(state: HostNumaState, i: number, req: VmTopologyRequest): NumaPlacement | null {
  const node = state.nodes[i]!;
  if (!floatFits(node, req)) return null;
  const hp = req.hugepageSizeKb;
  node.usedMemKb += req.memoryKb;
  const pages = hp > 0 ? node.pages.get(hp) : undefined;
  if (pages !== undefined) pages.used += Math.floor(req.memoryKb / hp);
  const cpus: number[] = [];
  for (let j = 0; j < node.cpuIds.length; j++) if (node.isolated[j] === 0) cpus.push(node.cpuIds[j]!);
  const threads = req.threads > 0 ? req.threads : 1;
  return {
    pinPolicy: req.pinPolicy,
    sockets: req.sockets,
    threads,
    cores: Math.floor(req.vcpu / (threads * req.sockets)),
    nodes: req.nodes.map((vn) => nodePlacement(node.id, node.id, vn, cpus, hp)),
  };
}

/** OpenNebula's make_hugepage_topology: the node with the most free pages (first on ties) that has the memory. */
function hugepageNode(state: HostNumaState, req: VmTopologyRequest): number {
  const hp = req.hugepageSizeKb;
  const nHp = Math.floor(req.memoryKb / hp);
  let best = -1;
  let bestFree = 0;
  state.nodes.forEach((node, i) => {
    const fm = freeMem(node);
    if (fm <= 0 || fm < req.memoryKb) return;
    const pages = node.pages.get(hp);
    if (pages === undefined) return;
    const free = pages.total - pages.used;
    if (free <= 0 || free < nHp) return;
    if (free > bestFree) {
      best = i;
      bestFree = free;
    }
  });
  return best;
}

function nodePlacement(
  nodeId: number,
  memoryNodeId: number,
  vn: { readonly totalCpus: number; readonly memoryKb: number },
  cpus: readonly number[],
  hugepageSizeKb: number,
): NumaNodePlacement {
  const base = { nodeId, cpus, memoryNodeId, memoryKb: vn.memoryKb, totalCpus: vn.totalCpus };
  if (hugepageSizeKb === 0) return base;
  return { ...base, hugepages: { sizeKb: hugepageSizeKb, pages: Math.floor(vn.memoryKb / hugepageSizeKb) } };
}

/** Threads of core c this VM may still use. */
function usableThreads(node: NumaNodeState, c: number, vmsThread: number): number {
  if (node.dedicated[c] === 1) return 0;
  let n = 0;
  for (let j = node.coreStart[c]!; j < node.coreStart[c + 1]!; j++) {
    if (node.isolated[j] === 0 && node.vms[j]! < vmsThread) n++;
  }
  return n;
}

/** Core c may take a CORE-pinned VM: no VM on it and not every thread isolated. */
function freeForCore(node: NumaNodeState, c: number): boolean {
  if (node.dedicated[c] === 1) return false;
  let usable = false;
  for (let j = node.coreStart[c]!; j < node.coreStart[c + 1]!; j++) {
    if (node.vms[j]! > 0) return false;
    if (node.isolated[j] === 0) usable = true;
  }
  return usable;
}

/**
 * Chooses host nodes for every virtual node (into state.cpuChoice/memChoice)
 * and returns the threads per core used, 0 when the VM does not fit.
 */
function pinnedThreads(state: HostNumaState, req: VmTopologyRequest): number {
  const dedicated = req.pinPolicy === 'CORE';
  const count = req.nodes.length;
  if (state.cpuChoice.length < count) {
    state.cpuChoice = new Int32Array(count);
    state.memChoice = new Int32Array(count);
  }
  let tMax = 1;
  if (!dedicated) {
    const tpc = state.threadsPerCore;
    if (tpc < 1) return 0;
    tMax = req.threads;
    if (tMax > tpc || tMax === 0) tMax = tpc;
    tMax = 2 ** Math.floor(Math.log2(tMax));
  }
  for (let t = tMax; t >= 1; t /= 2) {
    if (req.threads !== 0 && !dedicated && t !== req.threads) continue;
    let divides = true;
    for (const vn of req.nodes) if (vn.totalCpus % t !== 0) divides = false;
    if (!divides) continue;
    for (const node of state.nodes) {
      node.tmpCpus = 0;
      node.tmpMem = 0;
      node.tmpPages = 0;
    }
    let k = 0;
    while (k < count && chooseNode(state, req.nodes[k]!, t, dedicated, req.hugepageSizeKb, k)) k++;
    if (k === count) return t;
  }
  return 0;
}

function chooseNode(
  state: HostNumaState,
  vn: { readonly totalCpus: number; readonly memoryKb: number },
  t: number,
  dedicated: boolean,
  hp: number,
  k: number,
): boolean {
  const { nodes, fitScore, fitNode, memFit } = state;
  const nHp = hp > 0 ? Math.floor(vn.memoryKb / hp) : 0;
  let fits = 0;
  let anyMem = false;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const cores = node.coreStart.length - 1;
    let groups = 0;
    for (let c = 0; c < cores; c++) {
      groups += dedicated ? (freeForCore(node, c) ? 1 : 0) : Math.floor(usableThreads(node, c, state.vmsThread) / t);
    }
    groups = Math.max(0, groups - Math.floor(node.tmpCpus / t));
    if (groups * t >= vn.totalCpus) {
      // OpenNebula scores in single precision; so do we, for identical ties.
      const score = Math.fround(1 - Math.fround(vn.totalCpus / (t * groups)));
      // Insertion by score descending, then node index descending.
      let at = fits++;
      while (at > 0 && (fitScore[at - 1]! < score || (fitScore[at - 1] === score && fitNode[at - 1]! < i))) {
        fitScore[at] = fitScore[at - 1]!;
        fitNode[at] = fitNode[at - 1]!;
        at--;
      }
      fitScore[at] = score;
      fitNode[at] = i;
    }
    let hpFit = true;
    if (hp > 0) {
      const pages = node.pages.get(hp);
      const free = pages === undefined ? 0 : pages.total - pages.used - node.tmpPages;
      hpFit = free > 0 && free >= nHp;
    }
    memFit[i] = freeMem(node) - node.tmpMem >= vn.memoryKb && hpFit ? 1 : 0;
    if (memFit[i] === 1) anyMem = true;
  }
  if (fits === 0 || !anyMem) return false;
  for (let hop = 0; hop < nodes.length; hop++) {
    for (let f = 0; f < fits; f++) {
      const cpuNode = nodes[fitNode[f]!]!;
      const m = cpuNode.distance[hop];
      if (m === undefined || memFit[m] === 0) continue;
      const memNode = nodes[m]!;
      cpuNode.tmpCpus += vn.totalCpus;
      memNode.tmpMem += vn.memoryKb;
      memNode.tmpPages += nHp;
      state.cpuChoice[k] = fitNode[f]!;
      state.memChoice[k] = m;
      return true;
    }
  }
  return false;
}

function takeCores(node: NumaNodeState, count: number): number[] {
  const cpus: number[] = [];
  const cores = node.coreStart.length - 1;
  for (let c = 0; c < cores && cpus.length < count; c++) {
    if (!freeForCore(node, c)) continue;
    let j = node.coreStart[c]!;
    while (node.isolated[j] === 1) j++;
    node.vms[j]! += 1;
    node.dedicated[c] = 1;
    cpus.push(node.cpuIds[j]!);
  }
  return cpus;
}

function takeThreads(node: NumaNodeState, count: number, t: number, vmsThread: number): number[] {
  const cpus: number[] = [];
  const cores = node.coreStart.length - 1;
  for (let c = 0; c < cores && cpus.length < count; c++) {
    let toTake = Math.floor(usableThreads(node, c, vmsThread) / t) * t;
    for (let j = node.coreStart[c]!; j < node.coreStart[c + 1]! && toTake > 0 && cpus.length < count; j++) {
      if (node.isolated[j] === 1 || node.vms[j]! >= vmsThread) continue;
      node.vms[j]! += 1;
      cpus.push(node.cpuIds[j]!);
      toTake--;
    }
  }
  return cpus;
}
