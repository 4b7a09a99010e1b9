import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeTable, compileRequirements } from '../core/expressions/index.js';
import type { Template } from '../core/template/types.js';
import { maxCapacity } from './reserved.js';
import { schedule } from './schedule.js';
import { randomConfig, randomSnapshot, STATIC_REQUIREMENTS } from './testing/random-snapshot.js';
import { parseVmTopology } from './topology.js';
import type {
  HostNumaCore,
  HostNumaNode,
  PendingVm,
  Placement,
  SchedulerConfig,
  SchedulerPlan,
  SchedulerSnapshot,
  SnapshotHost,
} from './types.js';

const SEEDS = 500;

function scalar(t: Template | Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  const v = t?.[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function vmCpu(vm: PendingVm): number {
  const topology = parseVmTopology(vm.template);
  const vcpu = Number(scalar(vm.template, 'VCPU') ?? '1');
  return Math.round((topology?.pinned === true ? vcpu : Number(scalar(vm.template, 'CPU') ?? vcpu)) * 100);
}

/** Checks a plan against the snapshot without using the scheduler's own code paths. */
function checkInvariants(s: SchedulerSnapshot, config: SchedulerConfig, plan: SchedulerPlan, label: string): void {
  const hosts = new Map(s.hosts.map((h) => [h.id, h]));
  const clusters = new Map((s.clusters ?? []).map((c) => [c.id, c]));
  const vms = new Map(s.vms.map((v) => [v.id, v]));
  const seen = new Set<number>();
  for (const id of [...plan.placements.map((p) => p.vmId), ...plan.unplaced.map((u) => u.vmId)]) {
    assert.ok(!seen.has(id), `${label}: VM ${id} decided twice`);
    seen.add(id);
  }
  assert.equal(seen.size, s.vms.length, `${label}: every VM is placed or unplaced`);
  if (config.maxDispatch !== undefined)
    assert.ok(plan.placements.length <= config.maxDispatch, `${label}: MAX_DISPATCH`);

  const cpu = new Map<number, number>();
  const mem = new Map<number, number>();
  const perHost = new Map<number, number>();
  const dsUse = new Map<string, number>();
  const leases = new Map<number, number>();
  const threadUse = new Map<string, number>();
  const pageUse = new Map<string, number>();
  const nodeMem = new Map<string, number>();
  const placedOn = new Map<number, number>();
  for (const p of plan.placements) {
    const vm = vms.get(p.vmId)!;
    const h = hosts.get(p.hostId)!;
    const where = `${label}: VM ${vm.id} on host ${h.id}`;
    placedOn.set(vm.id, h.id);
    assert.equal(h.state, 'MONITORED', `${where}: host state`);
    if (vm.clusterIds !== undefined) assert.ok(vm.clusterIds.includes(h.clusterId), `${where}: cluster`);
    if (vm.runtime !== undefined) assert.ok(h.runtimes.includes(vm.runtime), `${where}: runtime`);
    if (vm.resched === true) assert.notEqual(h.id, vm.hostId, `${where}: rescheduled onto its own host`);
    const topology = parseVmTopology(vm.template);
    const pinnedHost = scalar(h.template, 'PIN_POLICY') === 'PINNED';
    assert.equal(pinnedHost, topology?.pinned === true, `${where}: PIN_POLICY match`);
    cpu.set(h.id, (cpu.get(h.id) ?? 0) + vmCpu(vm));
    mem.set(h.id, (mem.get(h.id) ?? 0) + Number(scalar(vm.template, 'MEMORY')) * 1024);
    perHost.set(h.id, (perHost.get(h.id) ?? 0) + 1);
    const req = scalar(vm.template, 'SCHED_REQUIREMENTS');
    if (req !== undefined && STATIC_REQUIREMENTS.includes(req)) {
      const record = { ...h.template, NAME: h.name, ID: h.id, CLUSTER_ID: h.clusterId };
      assert.ok(compileRequirements(req).evaluate(AttributeTable.fromRecords([record]), 0), `${where}: ${req}`);
    }
    if (s.datastores !== undefined && vm.resched !== true) {
      const ds = s.datastores.find((d) => d.id === p.datastoreId);
      assert.ok(ds?.clusterIds.includes(h.clusterId) === true, `${where}: datastore ${p.datastoreId} in cluster`);
      const need = (vm.systemDiskMb ?? 0) + (config.memorySystemDsScale ?? 0) * Number(scalar(vm.template, 'MEMORY'));
      const key = ds.shared === false ? `${ds.id}@${h.id}` : `${ds.id}`;
      dsUse.set(key, (dsUse.get(key) ?? 0) + need);
    }
    const nets = p.nics.map((n) => n.networkId);
    if (scalar(vm.template, 'DIFFERENT_VNETS') === 'YES')
      assert.equal(new Set(nets).size, nets.length, `${where}: DIFFERENT_VNETS`);
    for (const n of nets) leases.set(n, (leases.get(n) ?? 0) + 1);
    if (topology !== undefined && topology.nodes.length > 0) {
      assert.ok(p.numa !== undefined && h.numa !== undefined, `${where}: NUMA placement`);
      const hostNuma: readonly HostNumaNode[] = h.numa;
      const floating: boolean = !topology.pinned || topology.nodeAffinity !== undefined;
      for (const node of p.numa.nodes) {
        if (!floating)
          for (const c of node.cpus) threadUse.set(`${h.id}:${c}`, (threadUse.get(`${h.id}:${c}`) ?? 0) + 1);
        assert.equal(floating ? true : node.cpus.length === node.totalCpus, true, `${where}: pinned CPU count`);
        const key = `${h.id}:${node.memoryNodeId}`;
        nodeMem.set(key, (nodeMem.get(key) ?? 0) + node.memoryKb);
        if (node.hugepages !== undefined) pageUse.set(key, (pageUse.get(key) ?? 0) + node.hugepages.pages);
        for (const c of node.cpus) {
          const isolated = hostNuma.some((n) =>
            n.cores.some((core) => core.cpus.some((x) => x.id === c && x.isolated === true)),
          );
          assert.ok(!isolated, `${where}: isolated CPU ${c} used`);
        }
      }
      if (topology.pinPolicy === 'CORE' && !floating) {
        for (const node of p.numa.nodes) {
          for (const c of node.cpus) {
            const core: HostNumaCore = hostNuma.flatMap((n) => n.cores).find((k) => k.cpus.some((x) => x.id === c))!;
            assert.ok(
              core.cpus.every((x) => (x.vms?.length ?? 0) === 0),
              `${where}: CORE on a busy core`,
            );
            const sharing = plan.placements.filter((q: Placement) => {
              if (q === p || q.hostId !== h.id || q.numa === undefined) return false;
              const t = parseVmTopology(vms.get(q.vmId)!.template);
              if (t === undefined || !t.pinned || t.nodeAffinity !== undefined) return false;
              return q.numa.nodes.some((n) => n.cpus.some((x) => core.cpus.some((k) => k.id === x)));
            });
            assert.equal(sharing.length, 0, `${where}: CORE core shared`);
          }
        }
      }
    }
  }
  for (const [id, used] of cpu) {
    const h = hosts.get(id)!;
    const max = maxCapacity(h.capacity.totalCpu, h.reserved?.cpu ?? reserved(h, clusters, 'RESERVED_CPU'));
    assert.ok(h.usage.cpu + used <= max, `${label}: host ${id} CPU over-committed (${h.usage.cpu} + ${used} > ${max})`);
  }
  for (const [id, used] of mem) {
    const h = hosts.get(id)!;
    const max = maxCapacity(h.capacity.totalMemKb, h.reserved?.mem ?? reserved(h, clusters, 'RESERVED_MEM'));
    assert.ok(h.usage.memKb + used <= max, `${label}: host ${id} memory over-committed`);
  }
  if (config.maxHost !== undefined)
    for (const [id, n] of perHost) assert.ok(n <= config.maxHost, `${label}: MAX_HOST on ${id}`);
  for (const [key, used] of dsUse) {
    const [ds, hostId] = key.split('@').map(Number) as [number, number | undefined];
    const d = s.datastores!.find((x) => x.id === ds)!;
    const free = hostId === undefined ? d.freeMb : (hosts.get(hostId)!.datastoreFreeMb?.[String(ds)] ?? d.freeMb);
    assert.ok(used <= free, `${label}: datastore ${key} over-committed`);
  }
  for (const [n, used] of leases)
    assert.ok(used <= s.networks!.find((x) => x.id === n)!.freeLeases, `${label}: network ${n} leases`);
  for (const [key, used] of threadUse) {
    const [hostId, cpuId] = key.split(':').map(Number) as [number, number];
    const h = hosts.get(hostId)!;
    const initial =
      h.numa!.flatMap((n) => n.cores.flatMap((c) => c.cpus)).find((c) => c.id === cpuId)!.vms?.length ?? 0;
    const vmsThread = Number(scalar(h.template, 'VMS_THREAD') ?? '1');
    assert.ok(initial + used <= vmsThread, `${label}: CPU ${key} shared beyond VMS_THREAD`);
  }
  for (const [key, used] of pageUse) {
    const [hostId, nodeId] = key.split(':').map(Number) as [number, number];
    const node = hosts.get(hostId)!.numa!.find((n) => n.id === nodeId)!;
    const free = node.hugepages?.find((p) => p.sizeKb === 1024 * 1024)?.free ?? 0;
    assert.ok(used <= free, `${label}: hugepages on ${key}`);
  }
  for (const [key, used] of nodeMem) {
    const [hostId, nodeId] = key.split(':').map(Number) as [number, number];
    const node = hosts.get(hostId)!.numa!.find((n) => n.id === nodeId)!;
    assert.ok(used <= node.memory.totalKb - node.memory.usedKb, `${label}: NUMA memory on ${key}`);
  }
  // Anti-affinity: role members never share a host, with each other or with the roles they avoid.
  for (const g of s.vmGroups ?? []) {
    const membersOf = (role: string) => {
      const r = g.roles.find((x) => x.name === role)!;
      return new Set([...(r.vmIds ?? []), ...s.vms.filter((v) => v.vmGroup?.role === role).map((v) => v.id)]);
    };
    const running = (h: SnapshotHost, members: Set<number>, except: number) =>
      (h.vmIds ?? []).some((id) => id !== except && members.has(id) && !placedOn.has(id));
    for (const role of g.roles) {
      const members = membersOf(role.name);
      const avoid = (g.antiAffined ?? [])
        .filter((rule) => rule.includes(role.name))
        .flatMap((rule) => rule.filter((r) => r !== role.name));
      for (const id of members) {
        const hostId = placedOn.get(id);
        if (hostId === undefined) continue;
        const h = hosts.get(hostId)!;
        const where = `${label}: VM ${id} (${role.name}) on host ${hostId}`;
        if (role.hostAffined !== undefined && role.hostAffined.length > 0)
          assert.ok(role.hostAffined.includes(hostId), `${where}: HOST_AFFINED`);
        if (role.hostAntiAffined !== undefined)
          assert.ok(!role.hostAntiAffined.includes(hostId), `${where}: HOST_ANTI_AFFINED`);
        if (role.policy === 'ANTI_AFFINED') {
          assert.ok(!running(h, members, id), `${where}: shares a host with a running member`);
          for (const other of members)
            if (other !== id) assert.notEqual(placedOn.get(other), hostId, `${where}: shares with ${other}`);
        }
        for (const name of avoid) {
          const others = membersOf(name);
          assert.ok(!running(h, others, id), `${where}: anti-affined role ${name} runs there`);
          for (const other of others)
            assert.notEqual(placedOn.get(other), hostId, `${where}: anti-affined with ${other}`);
        }
      }
    }
  }
}

function reserved(
  h: SnapshotHost,
  clusters: Map<number, { template?: Readonly<Record<string, unknown>> }>,
  key: string,
) {
  return scalar(h.template, key) ?? scalar(clusters.get(h.clusterId)?.template, key);
}

describe('scheduler properties on random fleets', () => {
  it(`the indexed selection gives exactly the plan of the straightforward scan (${SEEDS} snapshots)`, () => {
    let placed = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const snapshot = randomSnapshot(seed);
      const config = randomConfig(seed);
      const indexed = schedule(snapshot, { ...config, selection: 'indexed' });
      const scan = schedule(snapshot, { ...config, selection: 'scan' });
      assert.deepEqual(indexed, scan, `seed ${seed}`);
      placed += indexed.placements.length;
    }
    assert.ok(placed > SEEDS * 3, `the random fleets place VMs (${placed})`);
  });

  it('the same holds on larger fleets, where rank orderings re-sort many changed hosts at once', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const snapshot = randomSnapshot(seed * 7919, { hosts: 300, vms: 1200 });
      const config = randomConfig(seed);
      const indexed = schedule(snapshot, { ...config, selection: 'indexed' });
      assert.deepEqual(indexed, schedule(snapshot, { ...config, selection: 'scan' }), `large seed ${seed}`);
      checkInvariants(snapshot, config, indexed, `large seed ${seed}`);
    }
  });

  it('plans never over-commit and respect every rule they can be checked against', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const snapshot = randomSnapshot(seed);
      const config = randomConfig(seed);
      checkInvariants(snapshot, config, schedule(snapshot, config), `seed ${seed}`);
    }
  });

  it('is deterministic and leaves the snapshot untouched', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const snapshot = randomSnapshot(seed);
      const before = JSON.stringify(snapshot);
      const a = schedule(snapshot, randomConfig(seed));
      const b = schedule(snapshot, randomConfig(seed));
      assert.deepEqual(a, b, `seed ${seed}`);
      assert.equal(JSON.stringify(snapshot), before, `seed ${seed}`);
    }
  });

  it('a VM that fits nowhere gets a message and rejection counts', () => {
    let messages = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (const u of schedule(randomSnapshot(seed), randomConfig(seed)).unplaced) {
        assert.ok(u.message.length > 0);
        messages++;
      }
    }
    assert.ok(messages > 0);
  });
});
