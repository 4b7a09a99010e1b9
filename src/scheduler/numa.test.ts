import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Template } from '../core/template/types.js';
import { buildNumaState, numaFits, placeNuma } from './numa.js';
import { schedule } from './schedule.js';
import { host, numaTopology, vm } from './testing/fixtures.js';
import { parseVmTopology } from './topology.js';
import type { HostNumaNode, SchedulerSnapshot } from './types.js';

const GB = 1024 * 1024;

function request(t: Template) {
  return parseVmTopology({ MEMORY: '1024', ...t })!;
}

function state(nodes: HostNumaNode[], vmsThread = 1, isolcpus: number[] = []) {
  return buildNumaState(nodes, vmsThread, new Set(isolcpus));
}

describe('NUMA placement: PIN_POLICY', () => {
  it('CORE: one vCPU per whole core, first thread, core dedicated', () => {
    const s = state(numaTopology(1, 4, 2));
    const req = request({ VCPU: '2', TOPOLOGY: { PIN_POLICY: 'CORE' } });
    const a = placeNuma(s, req)!;
    assert.deepEqual(a.nodes[0]!.cpus, [0, 2]);
    assert.equal(a.threads, 1);
    assert.equal(a.cores, 2);
    assert.deepEqual(placeNuma(s, req)!.nodes[0]!.cpus, [4, 6]);
    assert.equal(numaFits(s, request({ VCPU: '1', TOPOLOGY: { PIN_POLICY: 'CORE' } })), false);
    // Dedicated cores keep their sibling threads idle: nothing left for THREAD either.
    assert.equal(numaFits(s, request({ VCPU: '1', TOPOLOGY: { PIN_POLICY: 'THREAD' } })), false);
  });

  it('THREAD: vCPUs on sibling threads, largest threads-per-core first', () => {
    const s = state(numaTopology(1, 4, 2));
    const a = placeNuma(s, request({ VCPU: '4', TOPOLOGY: { PIN_POLICY: 'THREAD' } }))!;
    assert.deepEqual(a.nodes[0]!.cpus, [0, 1, 2, 3]);
    assert.deepEqual([a.sockets, a.cores, a.threads], [1, 2, 2]);
    // An odd vCPU count cannot use 2 threads per core: t = 1.
    const b = placeNuma(s, request({ VCPU: '3', TOPOLOGY: { PIN_POLICY: 'THREAD' } }))!;
    assert.equal(b.threads, 1);
    assert.deepEqual(b.nodes[0]!.cpus, [4, 5, 6]);
    assert.deepEqual(placeNuma(s, request({ VCPU: '1', TOPOLOGY: { PIN_POLICY: 'THREAD' } }))!.nodes[0]!.cpus, [7]);
    assert.equal(numaFits(s, request({ VCPU: '1', TOPOLOGY: { PIN_POLICY: 'THREAD' } })), false);
  });

  it('a requested THREADS must be possible on the host', () => {
    const s = state(numaTopology(1, 4, 2));
    assert.equal(numaFits(s, request({ VCPU: '4', TOPOLOGY: { PIN_POLICY: 'THREAD', THREADS: '4' } })), false);
    const one = placeNuma(s, request({ VCPU: '4', TOPOLOGY: { PIN_POLICY: 'THREAD', THREADS: '1' } }))!;
    assert.equal(one.threads, 1);
    assert.equal(one.cores, 4);
    assert.deepEqual(one.nodes[0]!.cpus, [0, 1, 2, 3]);
  });

  it('SHARED allocates like THREAD (the vCPUs float over the set)', () => {
    const s = state(numaTopology(1, 2, 2));
    const a = placeNuma(s, request({ VCPU: '2', TOPOLOGY: { PIN_POLICY: 'SHARED' } }))!;
    assert.equal(a.pinPolicy, 'SHARED');
    assert.deepEqual(a.nodes[0]!.cpus, [0, 1]);
  });

  it('isolated CPUs (ISOLCPUS or probe flags) are never used', () => {
    const s = state(numaTopology(1, 3, 2), 1, [0, 1, 3]);
    // Core 0 fully isolated; core 1 has thread 2 usable; core 2 both.
    assert.deepEqual(placeNuma(s, request({ VCPU: '2', TOPOLOGY: { PIN_POLICY: 'CORE' } }))!.nodes[0]!.cpus, [2, 4]);
    const t = state(numaTopology(1, 3, 2), 1, [0, 1, 3]);
    const thread = placeNuma(t, request({ VCPU: '3', TOPOLOGY: { PIN_POLICY: 'THREAD' } }))!;
    assert.deepEqual(thread.nodes[0]!.cpus, [2, 4, 5]);
    assert.equal(numaFits(t, request({ VCPU: '1', TOPOLOGY: { PIN_POLICY: 'THREAD' } })), false);
  });

  it('VMS_THREAD lets several VMs share a thread, never one VM twice', () => {
    const s = state(numaTopology(1, 1, 2), 2);
    const req = request({ VCPU: '2', TOPOLOGY: { PIN_POLICY: 'THREAD' } });
    assert.deepEqual(placeNuma(s, req)!.nodes[0]!.cpus, [0, 1]);
    assert.deepEqual(placeNuma(s, req)!.nodes[0]!.cpus, [0, 1]);
    assert.equal(numaFits(s, req), false);
    assert.equal(numaFits(s, request({ VCPU: '4', TOPOLOGY: { PIN_POLICY: 'THREAD' } })), false);
    const single = state(numaTopology(1, 1, 2), 1);
    placeNuma(single, req);
    assert.equal(numaFits(single, req), false);
  });
});

describe('NUMA placement: nodes, memory and hugepages', () => {
  it('spreads virtual nodes and tracks what the VM already took', () => {
    const s = state(numaTopology(2, 2, 2, 4));
    const two = request({ VCPU: '4', MEMORY: '4096', TOPOLOGY: { PIN_POLICY: 'CORE', SOCKETS: '2' } });
    const a = placeNuma(s, two)!;
    assert.deepEqual(
      a.nodes.map((n) => [n.nodeId, n.memoryNodeId, n.cpus]),
      [
        [1, 1, [4, 6]],
        [0, 0, [0, 2]],
      ],
    );
    // Two virtual nodes of 2 cores cannot both use a host with one node of 2 free cores.
    const one = state(numaTopology(1, 2, 2, 8));
    assert.equal(numaFits(one, two), false);
  });

  it('best fit by score (OpenNebula: highest score first, higher node on ties); memory by distance', () => {
    const nodes = numaTopology(3, 4, 1, 4);
    const busy = (n: HostNumaNode, count: number): HostNumaNode => ({
      ...n,
      cores: n.cores.map((c, i) => (i < count ? { ...c, cpus: c.cpus.map((cpu) => ({ ...cpu, vms: [99] })) } : c)),
    });
    const full = { totalKb: 4 * GB, usedKb: 4 * GB };
    // Node 0: 2 free cores, no memory. Node 1: 4 free cores, no memory. Node 2: no free core, memory.
    nodes[0] = { ...busy(nodes[0]!, 2), memory: full, distance: [0, 2, 1] };
    nodes[1] = { ...nodes[1]!, memory: full, distance: [1, 2, 0] };
    nodes[2] = busy(nodes[2]!, 4);
    const s = state(nodes);
    const a = placeNuma(s, request({ VCPU: '2', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'CORE' } }))!;
    assert.equal(a.nodes[0]!.nodeId, 1, 'node 1 scores 1 - 2/4 = 0.5 over node 0 at 1 - 2/2 = 0');
    assert.equal(a.nodes[0]!.memoryNodeId, 2, 'the closest node with memory, at hop 1');
    assert.deepEqual(a.nodes[0]!.cpus, [4, 5]);
    // With local memory, hop 0 wins before any remote node is considered.
    const local = numaTopology(2, 4, 1, 4);
    local[0] = busy(local[0]!, 2);
    local[1] = { ...local[1]!, memory: full };
    const b = placeNuma(state(local), request({ VCPU: '2', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'CORE' } }))!;
    assert.deepEqual([b.nodes[0]!.nodeId, b.nodes[0]!.memoryNodeId], [0, 0]);
  });

  it('hugepages for pinned VMs are taken on the memory node', () => {
    const s = state(numaTopology(2, 2, 2, 8, 2));
    const req = request({ VCPU: '2', MEMORY: '2048', TOPOLOGY: { PIN_POLICY: 'THREAD', HUGEPAGE_SIZE: '1024' } });
    const a = placeNuma(s, req)!;
    assert.deepEqual(a.nodes[0]!.hugepages, { sizeKb: GB, pages: 2 });
    const b = placeNuma(s, req)!;
    assert.notEqual(b.nodes[0]!.memoryNodeId, a.nodes[0]!.memoryNodeId);
    assert.equal(numaFits(s, req), false, 'both nodes used their 2 pages');
    assert.equal(numaFits(s, request({ VCPU: '2', MEMORY: '2048', TOPOLOGY: { PIN_POLICY: 'THREAD' } })), true);
  });

  it('unpinned hugepages: the node with most free pages, floating over its CPUs', () => {
    const nodes = numaTopology(2, 2, 2, 8, 4);
    nodes[1] = { ...nodes[1]!, hugepages: [{ sizeKb: GB, total: 8, free: 8 }] };
    const s = state(nodes, 1, [4]);
    const req = request({ VCPU: '2', MEMORY: '3072', TOPOLOGY: { HUGEPAGE_SIZE: '1024' } });
    const a = placeNuma(s, req)!;
    assert.equal(a.pinPolicy, 'NONE');
    assert.deepEqual(a.nodes[0], {
      nodeId: 1,
      memoryNodeId: 1,
      cpus: [5, 6, 7],
      memoryKb: 3 * GB,
      totalCpus: 2,
      hugepages: { sizeKb: GB, pages: 3 },
    });
    // 5 pages left on node 1, 4 on node 0.
    assert.equal(placeNuma(s, req)!.nodes[0]!.nodeId, 1);
    assert.equal(placeNuma(s, req)!.nodes[0]!.nodeId, 0);
    assert.equal(
      numaFits(s, request({ VCPU: '1', MEMORY: '2048', TOPOLOGY: { HUGEPAGE_SIZE: '2' } })),
      false,
      'no 2 MB pages',
    );
  });

  it('NODE_AFFINITY pins memory and CPU set to one node', () => {
    const s = state(numaTopology(2, 1, 2, 2));
    const req = request({ VCPU: '1', MEMORY: '1536', TOPOLOGY: { NODE_AFFINITY: '1' } });
    assert.deepEqual(placeNuma(s, req)!.nodes[0]!.cpus, [2, 3]);
    assert.equal(numaFits(s, req), false, 'node 1 has 512 MB left');
    assert.equal(numaFits(s, request({ VCPU: '1', MEMORY: '512', TOPOLOGY: { NODE_AFFINITY: '7' } })), false);
  });
});

describe('NUMA placement through schedule()', () => {
  const pinnedHost = (id: number, numa: HostNumaNode[], extra: Record<string, string> = {}) =>
    host(id, { template: { PIN_POLICY: 'PINNED', ...extra }, numa }, 16, 64);

  it('pinned VMs go to PIN_POLICY=PINNED hosts with room, CPU = VCPU', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1), pinnedHost(2, numaTopology(1, 2, 2, 8)), pinnedHost(3, numaTopology(2, 2, 2, 8))],
      vms: [
        vm(1, { VCPU: '2', CPU: '0.1', TOPOLOGY: { PIN_POLICY: 'CORE' } }),
        vm(2, { VCPU: '2', TOPOLOGY: { PIN_POLICY: 'CORE' } }),
        vm(3, { VCPU: '4', TOPOLOGY: { PIN_POLICY: 'CORE' } }),
        vm(4),
      ],
    };
    const plan = schedule(snapshot);
    const by = Object.fromEntries(plan.placements.map((p) => [p.vmId, p]));
    assert.equal(by[4]!.hostId, 1, 'an unpinned VM avoids pinning hosts');
    assert.equal(by[1]!.hostId, 2);
    assert.deepEqual(by[1]!.numa!.nodes[0]!.cpus, [0, 2]);
    assert.equal(by[2]!.hostId, 3);
    assert.equal(plan.unplaced[0]!.vmId, 3);
    assert.match(
      plan.unplaced[0]!.message,
      /no host has free NUMA resources for 1 NUMA node, 4 vCPUs, PIN_POLICY=CORE/,
    );
    assert.deepEqual(schedule(snapshot, { selection: 'scan' }), plan);
  });

  it('VMS_THREAD and ISOLCPUS come from the host (or cluster) template', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [pinnedHost(1, numaTopology(1, 2, 2, 8), { VMS_THREAD: '2', ISOLCPUS: '0,1' })],
      vms: [1, 2, 3].map((id) => vm(id, { VCPU: '2', TOPOLOGY: { PIN_POLICY: 'THREAD' } })),
    };
    const plan = schedule(snapshot);
    assert.deepEqual(
      plan.placements.map((p) => p.numa!.nodes[0]!.cpus),
      [
        [2, 3],
        [2, 3],
      ],
    );
    assert.deepEqual(
      plan.unplaced.map((u) => u.vmId),
      [3],
    );
  });

  it('hugepage VMs need a host that reports NUMA hugepages', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1), host(2, { numa: numaTopology(1, 2, 2, 8, 4) })],
      vms: [
        vm(1, { MEMORY: '2048', TOPOLOGY: { HUGEPAGE_SIZE: '1024' } }),
        vm(2, { MEMORY: '4096', TOPOLOGY: { HUGEPAGE_SIZE: '1024' } }),
      ],
    };
    const plan = schedule(snapshot);
    assert.deepEqual(
      plan.placements.map((p) => [p.vmId, p.hostId, p.numa!.nodes[0]!.hugepages!.pages]),
      [[1, 2, 2]],
    );
    assert.match(plan.unplaced[0]!.message, /4096 MB in 1024 MB hugepages/);
  });
});
