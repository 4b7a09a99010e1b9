import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxCapacity } from './reserved.js';
import { schedule } from './schedule.js';
import { host, vm } from './testing/fixtures.js';
import type { SchedulerConfig, SchedulerPlan, SchedulerSnapshot } from './types.js';

function hostsOf(plan: SchedulerPlan): Record<number, number> {
  return Object.fromEntries(plan.placements.map((p) => [p.vmId, p.hostId]));
}

function run(snapshot: SchedulerSnapshot, config: SchedulerConfig = {}): SchedulerPlan {
  const indexed = schedule(snapshot, { ...config, selection: 'indexed' });
  const scan = schedule(snapshot, { ...config, selection: 'scan' });
  assert.deepEqual(indexed, scan, 'indexed and scan selection must agree');
  return indexed;
}

function message(plan: SchedulerPlan, vmId: number): string | undefined {
  return plan.unplaced.find((u) => u.vmId === vmId)?.message;
}

describe('schedule: filters', () => {
  it('places only on MONITORED hosts', () => {
    const plan = run({
      hosts: [host(1, { state: 'DISABLED' }), host(2, { state: 'ERROR' }), host(3, { state: 'OFFLINE' }), host(4)],
      vms: [vm(1), vm(2)],
    });
    assert.deepEqual(hostsOf(plan), { 1: 4, 2: 4 });
    const none = run({ hosts: [host(1, { state: 'INIT' })], vms: [vm(1)] });
    assert.equal(message(none, 1), 'no host is MONITORED');
    assert.deepEqual(none.unplaced[0]!.rejections, { state: 1 });
  });

  it('an empty fleet leaves every VM pending with "no hosts"', () => {
    assert.equal(message(run({ hosts: [], vms: [vm(1)] }), 1), 'no hosts');
  });

  it('keeps VMs in their clusters', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, { clusterId: 100 }), host(2, { clusterId: 101 }), host(3, { clusterId: 101 })],
      clusters: [
        { id: 100, name: 'edge-paris' },
        { id: 101, name: 'edge-berlin' },
      ],
      vms: [vm(1, {}, { clusterIds: [100] }), vm(2, {}, { clusterIds: [101] }), vm(3, {}, { clusterIds: [102] })],
    };
    const plan = run(snapshot);
    assert.deepEqual(hostsOf(plan), { 1: 1, 2: 2 });
    assert.equal(message(plan, 3), 'no host in cluster 102');
  });

  it('applies ACL decisions per owner (uid 0 and gid 0 may use every host)', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1), host(2), host(3)],
      acl: { hosts: { byUser: { '5': [3] }, byGroup: { '7': '*' } } },
      vms: [
        vm(1, {}, { uid: 5, gid: 1 }),
        vm(2, {}, { uid: 6, gid: 1 }),
        vm(3, {}, { uid: 6, gid: 7 }),
        vm(4, {}, { uid: 0, gid: 1 }),
      ],
    };
    const plan = run(snapshot);
    assert.equal(hostsOf(plan)[1], 3);
    assert.equal(hostsOf(plan)[3] !== undefined, true);
    assert.equal(hostsOf(plan)[4] !== undefined, true);
    assert.equal(message(plan, 2), 'user 6 is not authorized to deploy on the matching hosts');
  });

  it('places only where the runtime works', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, { runtimes: ['crun'] }), host(2, { runtimes: ['crun', 'qemu'] })],
      vms: [vm(1, {}, { runtime: 'qemu' }), vm(2, {}, { runtime: 'firecracker' })],
    };
    const plan = run(snapshot);
    assert.equal(hostsOf(plan)[1], 2);
    assert.equal(message(plan, 2), 'all hosts lack runtime firecracker');
  });

  it('tests allocated capacity, counting earlier placements of the same call', () => {
    // 4 cores, 8 GB: three 1.5-CPU VMs need 4.5 cores.
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, {}, 4, 8)],
      vms: [vm(1, { CPU: '1.5' }), vm(2, { CPU: '1.5' }), vm(3, { CPU: '1.5' }), vm(4, { CPU: '0.5', MEMORY: '9000' })],
    };
    const plan = run(snapshot);
    assert.deepEqual(hostsOf(plan), { 1: 1, 2: 1 });
    assert.equal(message(plan, 3), 'no host with 1.5 free CPUs');
    assert.equal(message(plan, 4), 'no host with 9000 MB free memory');
  });

  it('counts existing usage and ignores measured load for capacity', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [
        host(1, { usage: { cpu: 700, memKb: 0, runningVms: 3 }, monitoring: { FREE_CPU: 800 } }),
        host(2, { usage: { cpu: 0, memKb: 0, runningVms: 0 }, monitoring: { FREE_CPU: 0 } }),
      ],
      vms: [vm(1, { CPU: '2' })],
    };
    assert.deepEqual(hostsOf(run(snapshot)), { 1: 2 });
  });

  it('reserved CPU and memory: absolute, percentage, from the cluster, negative overcommits', () => {
    assert.equal(maxCapacity(800, undefined), 800);
    assert.equal(maxCapacity(800, 100), 700);
    assert.equal(maxCapacity(800, '25%'), 600);
    assert.equal(maxCapacity(800, '-50%'), 1200);
    assert.equal(maxCapacity(800, -200), 1000);
    assert.equal(maxCapacity(800, '12.5%'), 700);
    assert.equal(maxCapacity(1000, '33%'), 670);
    assert.equal(maxCapacity(800, 'junk'), 800);
    const four = (id: number, extra = {}) => host(id, extra, 4, 64);
    const need = (id: number) => vm(id, { CPU: '4' });
    const plan = run({
      hosts: [
        four(1, { reserved: { cpu: '25%' } }),
        four(2, { template: { RESERVED_CPU: '50' } }),
        four(3, { clusterId: 9 }),
        four(4, { reserved: { cpu: '-50%' }, clusterId: 8 }),
      ],
      clusters: [{ id: 9, name: 'nine', template: { RESERVED_CPU: '1' } }],
      vms: [need(1), need(2), need(3)],
      // host 4 has 6 cores after overcommit: it takes the first VM; nobody else has 4 free cores.
    });
    assert.deepEqual(hostsOf(plan), { 1: 4 });
    assert.equal(message(plan, 2), 'no host with 4 free CPUs');
    const mem = run({
      hosts: [host(1, { reserved: { mem: '50%' } }, 4, 8), host(2, { reserved: { mem: 1024 * 1024 } }, 4, 8)],
      vms: [vm(1, { MEMORY: '6144' })],
    });
    assert.deepEqual(hostsOf(mem), { 1: 2 });
  });

  it('SCHED_REQUIREMENTS with $VAR substitution, host sections and globs', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [
        host(1, { name: 'aquila01', template: { HYPERVISOR: 'kvm' }, monitoring: { FREE_MEMORY: 1024 } }),
        host(2, { name: 'aquila02', template: { HYPERVISOR: 'kvm' }, monitoring: { FREE_MEMORY: 4096 } }),
        host(3, { name: 'centaur03', template: { HYPERVISOR: 'lxc' }, monitoring: { FREE_MEMORY: 9999 } }),
      ],
      vms: [
        vm(1, { SCHED_REQUIREMENTS: 'NAME = "aquila*"' }),
        vm(2, { SCHED_REQUIREMENTS: 'HYPERVISOR = kvm & FREE_MEMORY > $MEMORY', MEMORY: '2048' }),
        vm(3, { SCHED_REQUIREMENTS: '"MONITORING/FREE_MEMORY" > 5000' }),
        vm(4, { SCHED_REQUIREMENTS: 'ID = 2' }),
        vm(5, { SCHED_REQUIREMENTS: 'NAME = "nothing*"' }),
        vm(6, { SCHED_REQUIREMENTS: 'CLUSTER_ID = 0 & !(NAME = "aquila*")' }),
      ],
    };
    const plan = run(snapshot);
    assert.deepEqual(hostsOf(plan), { 1: 1, 2: 2, 3: 3, 4: 2, 6: 3 });
    assert.equal(message(plan, 5), 'no host matches SCHED_REQUIREMENTS');
  });

  it('a malformed expression leaves the VM pending with the syntax error, never throws', () => {
    const plan = run({
      hosts: [host(1)],
      vms: [vm(1, { SCHED_REQUIREMENTS: 'FREE_CPU >' }), vm(2, { SCHED_RANK: 'FREE_CPU +' }), vm(3)],
    });
    assert.equal(message(plan, 1), 'SCHED_REQUIREMENTS: column 11: expected a number after >, found end of input');
    assert.equal(
      message(plan, 2),
      'SCHED_RANK: column 11: expected a number, an attribute name, - or (, found end of input',
    );
    assert.deepEqual(hostsOf(plan), { 3: 1 });
  });

  it('CURRENT_VMS sees VMs placed earlier in the same call', () => {
    const plan = run({
      hosts: [host(1), host(2), host(3, { vmIds: [500] })],
      vms: [
        vm(1),
        vm(2, { SCHED_REQUIREMENTS: 'CURRENT_VMS = 1' }),
        vm(3, { SCHED_REQUIREMENTS: 'CURRENT_VMS != 1 & CURRENT_VMS != 500' }),
      ],
    });
    const h = hostsOf(plan);
    assert.equal(h[2], h[1]);
    assert.notEqual(h[3], h[1]);
    assert.notEqual(h[3], 3);
  });

  it('rescheduling skips the current host, keeps the datastore and migrates', () => {
    const plan = run({
      hosts: [host(1, { vmIds: [7] }), host(2)],
      datastores: [{ id: 0, name: 'system', type: 'SYSTEM', clusterIds: [0], freeMb: 1000 }],
      vms: [vm(7, {}, { resched: true, hostId: 1, datastoreId: 0 })],
    });
    assert.deepEqual(plan.placements, [{ vmId: 7, hostId: 2, datastoreId: 0, action: 'migrate', nics: [] }]);
    const stuck = run({ hosts: [host(1, { vmIds: [7] })], vms: [vm(7, {}, { resched: true, hostId: 1 })] });
    assert.equal(message(stuck, 7), 'no host other than its current host');
  });

  it('MAX_HOST, MAX_DISPATCH and MAX_VM keep OpenNebula semantics when set', () => {
    const snapshot: SchedulerSnapshot = { hosts: [host(1), host(2)], vms: [vm(1), vm(2), vm(3), vm(4)] };
    const oneEach = run(snapshot, { maxHost: 1 });
    assert.deepEqual(hostsOf(oneEach), { 1: 1, 2: 2 });
    assert.equal(message(oneEach, 3), 'every matching host already received MAX_HOST (1) VMs in this cycle');
    const dispatch = run(snapshot, { maxDispatch: 3 });
    assert.equal(dispatch.placements.length, 3);
    assert.equal(message(dispatch, 4), 'not dispatched: MAX_DISPATCH (3) placements reached in this cycle');
    const maxVm = run(snapshot, { maxVm: 2 });
    assert.equal(maxVm.placements.length + maxVm.unplaced.length, 2);
  });

  it('USER_PRIORITY first, then lowest id (FIFO)', () => {
    // One slot: the highest-priority VM gets it; among equals the oldest.
    const plan = run({
      hosts: [host(1, {}, 1, 8)],
      vms: [vm(5), vm(3), vm(9, { USER_PRIORITY: '10' }), vm(1, {}, { userPriority: -1 })],
    });
    assert.deepEqual(hostsOf(plan), { 9: 1 });
    const order = run({
      hosts: [host(1, {}, 2, 8)],
      vms: [vm(5), vm(3), vm(9, { USER_PRIORITY: '10' }), vm(1, { USER_PRIORITY: '-1' })],
    });
    assert.deepEqual(hostsOf(order), { 9: 1, 3: 1 });
    assert.deepEqual(
      order.unplaced.map((u) => u.vmId),
      [5, 1],
    );
  });
});

describe('schedule: rankers', () => {
  const fleet = (): SchedulerSnapshot => ({
    hosts: [
      host(1, {
        usage: { cpu: 0, memKb: 0, runningVms: 5 },
        monitoring: { FREE_CPU: 100 },
        template: { PRIORITY: '1' },
      }),
      host(2, { usage: { cpu: 0, memKb: 0, runningVms: 1 }, monitoring: { FREE_CPU: 700 }, clusterId: 3 }),
      host(3, {
        usage: { cpu: 0, memKb: 0, runningVms: 3 },
        monitoring: { FREE_CPU: 400 },
        template: { PRIORITY: '9' },
      }),
    ],
    clusters: [{ id: 3, name: 'three', template: { PRIORITY: '5' } }],
    vms: [vm(1)],
  });

  it('striping (default) prefers the fewest RUNNING_VMS', () => assert.deepEqual(hostsOf(run(fleet())), { 1: 2 }));
  it('packing prefers the most RUNNING_VMS', () =>
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: 'packing' })), { 1: 1 }));
  it('load-aware prefers the most FREE_CPU', () =>
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: 'load-aware' })), { 1: 2 }));
  it('fixed prefers the highest PRIORITY, host template before cluster template', () =>
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: 'fixed' })), { 1: 3 }));
  it('custom rank from the config', () =>
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: { rank: '- FREE_CPU' } })), { 1: 1 }));
  it("a VM's SCHED_RANK replaces the default policy", () => {
    const s = fleet();
    assert.deepEqual(hostsOf(run({ ...s, vms: [vm(1, { SCHED_RANK: 'RUNNING_VMS' })] })), { 1: 1 });
  });
  it('ties go to the lowest host id', () => {
    const plan = run({ hosts: [host(9), host(4), host(6)], vms: [vm(1)] });
    assert.deepEqual(hostsOf(plan), { 1: 4 });
  });

  it('several policies: each normalised by its largest |score| among the candidates, then summed', () => {
    // packing: RUNNING_VMS 5,1,3 → 1, 0.2, 0.6; fixed: PRIORITY 1,5,9 → 0.11, 0.56, 1.
    // Sums: host1 1.11, host2 0.76, host3 1.6 → host 3.
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: ['packing', 'fixed'] })), { 1: 3 });
    // striping -5,-1,-3 → -1,-0.2,-0.6; fixed as above: host1 -0.89, host2 0.36, host3 0.4 → host 3.
    assert.deepEqual(hostsOf(run(fleet(), { hostPolicy: ['striping', 'fixed'] })), { 1: 3 });
  });

  it('striping spreads a burst: later VMs see earlier placements', () => {
    const plan = run({ hosts: [host(1), host(2), host(3)], vms: [1, 2, 3, 4, 5, 6].map((i) => vm(i)) });
    assert.deepEqual(Object.values(hostsOf(plan)), [1, 2, 3, 1, 2, 3]);
    const packed = run(
      { hosts: [host(1, {}, 2), host(2, {}, 2)], vms: [1, 2, 3].map((i) => vm(i)) },
      { hostPolicy: 'packing' },
    );
    assert.deepEqual(Object.values(hostsOf(packed)), [1, 1, 2]);
  });

  it('load-aware charges each placement to FREE_CPU', () => {
    const plan = run(
      {
        hosts: [host(1, { monitoring: { FREE_CPU: 800 } }), host(2, { monitoring: { FREE_CPU: 650 } })],
        vms: [vm(1, { CPU: '1' }), vm(2, { CPU: '1' }), vm(3, { CPU: '1' })],
      },
      { hostPolicy: 'load-aware' },
    );
    // 800 → 700 (host 1), then 700 vs 650 → host 1 again (600), then 650 → host 2.
    assert.deepEqual(Object.values(hostsOf(plan)), [1, 1, 2]);
  });
});

describe('schedule: datastores and networks', () => {
  it('chooses a system datastore in the host cluster with room, by policy', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, { clusterId: 1 }), host(2, { clusterId: 2, datastoreFreeMb: { '21': 50 } })],
      datastores: [
        { id: 10, name: 'small', type: 'SYSTEM', clusterIds: [1], freeMb: 500 },
        { id: 11, name: 'big', type: 'SYSTEM', clusterIds: [1], freeMb: 5000, template: { PRIORITY: '1' } },
        { id: 12, name: 'images', type: 'IMAGE', clusterIds: [1, 2], freeMb: 99999 },
        { id: 13, name: 'off', type: 'SYSTEM', clusterIds: [1], freeMb: 99999, enabled: false },
        { id: 21, name: 'local', type: 'SYSTEM', clusterIds: [2], freeMb: 0, shared: false },
      ],
      vms: [
        vm(1, {}, { systemDiskMb: 100, clusterIds: [1] }),
        vm(2, { SCHED_DS_REQUIREMENTS: 'NAME = small' }, { systemDiskMb: 100, clusterIds: [1] }),
        vm(3, {}, { systemDiskMb: 100, clusterIds: [2] }),
        vm(4, {}, { systemDiskMb: 40, clusterIds: [2] }),
        vm(5, {}, { systemDiskMb: 20, clusterIds: [2] }),
      ],
    };
    const plan = run(snapshot);
    const ds = Object.fromEntries(plan.placements.map((p) => [p.vmId, p.datastoreId]));
    assert.deepEqual(ds, { 1: 11, 2: 10, 4: 21 });
    assert.equal(message(plan, 3), 'no system datastore with 100 MB free in cluster 2');
    // 50 − 40 leaves 10 MB on host 2's local datastore.
    assert.equal(message(plan, 5), 'no system datastore with 20 MB free in cluster 2');
    const packing = run(
      { ...snapshot, vms: [vm(1, {}, { systemDiskMb: 100, clusterIds: [1] })] },
      { datastorePolicy: 'packing' },
    );
    assert.equal(packing.placements[0]!.datastoreId, 10);
    const fixed = run({ ...snapshot, vms: [vm(1, { SCHED_DS_RANK: '-PRIORITY' }, { clusterIds: [1] })] });
    assert.equal(fixed.placements[0]!.datastoreId, 10);
    const unmatched = run({ ...snapshot, vms: [vm(1, { SCHED_DS_REQUIREMENTS: 'NAME = nope' }, { clusterIds: [1] })] });
    assert.equal(message(unmatched, 1), 'no system datastore matches SCHED_DS_REQUIREMENTS');
    const none = run({ ...snapshot, vms: [vm(1, {}, { clusterIds: [1] })], acl: { datastores: { byUser: {} } } });
    assert.equal(none.placements.length, 1, 'uid 0 ignores the ACL');
    const denied = run({
      ...snapshot,
      vms: [vm(1, {}, { clusterIds: [1], uid: 4, gid: 4 })],
      acl: { datastores: { byUser: {} } },
    });
    assert.equal(message(denied, 1), 'no system datastore available in the hosts’ clusters');
  });

  it('MEMORY_SYSTEM_DS_SCALE adds memory to the datastore need', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1)],
      datastores: [{ id: 1, name: 's', type: 'SYSTEM', clusterIds: [0], freeMb: 1500 }],
      vms: [vm(1, { MEMORY: '1024' }, { systemDiskMb: 100 })],
    };
    assert.equal(run(snapshot).placements.length, 1);
    assert.equal(run(snapshot, { memorySystemDsScale: 2 }).placements.length, 0);
  });

  it('picks networks for NETWORK_MODE=auto NICs: cluster, leases, requirements, DIFFERENT_VNETS', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, { clusterId: 1 })],
      networks: [
        { id: 1, name: 'public', clusterIds: [1], freeLeases: 1, template: { TRAFFIC: 'public' } },
        { id: 2, name: 'private', clusterIds: [1], freeLeases: 5, template: { TRAFFIC: 'private' } },
        { id: 3, name: 'elsewhere', clusterIds: [2], freeLeases: 100 },
      ],
      vms: [
        vm(1, {
          NIC: [
            { NETWORK_ID: '9' },
            { NETWORK_MODE: 'auto' },
            { NETWORK_MODE: 'AUTO', SCHED_REQUIREMENTS: 'TRAFFIC = public' },
          ],
        }),
        vm(2, { NIC: { NETWORK_MODE: 'auto', SCHED_REQUIREMENTS: 'TRAFFIC = public' } }),
        vm(3, {
          DIFFERENT_VNETS: 'YES',
          NIC: [{ NETWORK_MODE: 'auto' }, { NETWORK_MODE: 'auto', SCHED_RANK: '-FREE_LEASES' }],
        }),
      ],
    };
    const plan = run(snapshot);
    assert.deepEqual(plan.placements.find((p) => p.vmId === 1)!.nics, [
      { nicIndex: 1, networkId: 2 },
      { nicIndex: 2, networkId: 1 },
    ]);
    assert.equal(message(plan, 2), 'no virtual network with a free lease for NIC 0 (NETWORK_MODE=auto)');
    // Network 1 has no lease left, so DIFFERENT_VNETS cannot be honoured.
    assert.equal(message(plan, 3), 'no virtual network with a free lease for NIC 1 (NETWORK_MODE=auto)');
    const twoNets = run({
      ...snapshot,
      networks: [...snapshot.networks!, { id: 4, name: 'x', clusterIds: [1], freeLeases: 9 }],
      vms: [snapshot.vms[2]!],
    });
    // NIC 0 stripes to the most free leases (4); NIC 1 ranks -FREE_LEASES, so the fewest (1), never 4 again.
    assert.deepEqual(twoNets.placements[0]!.nics, [
      { nicIndex: 0, networkId: 4 },
      { nicIndex: 1, networkId: 1 },
    ]);
  });
});

describe('schedule: SCHED_MESSAGE', () => {
  it('names the dominant reason, scoped to the VM cluster', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [
        host(1, { clusterId: 100 }, 2),
        host(2, { clusterId: 100 }, 2),
        host(3, { clusterId: 100, runtimes: ['crun'] }, 16),
        ...[4, 5, 6, 7, 8].map((id) => host(id, { clusterId: 101 }, 64)),
      ],
      clusters: [
        { id: 100, name: 'edge-paris' },
        { id: 101, name: 'core' },
      ],
      vms: [vm(1, { CPU: '4' }, { clusterIds: [100], runtime: 'qemu' })],
    };
    const plan = run(snapshot);
    assert.equal(message(plan, 1), 'no host with 4 free CPUs in cluster edge-paris');
    assert.deepEqual(plan.unplaced[0]!.rejections, { cluster: 5, runtime: 1, cpu: 2 });
  });

  it('runtime and pinning messages', () => {
    const plan = run({
      hosts: [
        host(1, { runtimes: ['crun'] }),
        host(2, { runtimes: ['crun'], template: { PIN_POLICY: 'PINNED' } }),
        host(3, { runtimes: ['crun'], template: { PIN_POLICY: 'PINNED' } }),
      ],
      vms: [
        vm(1, {}, { runtime: 'qemu' }),
        vm(2, { VCPU: '2', TOPOLOGY: { PIN_POLICY: 'CORE' } }, { clusterIds: [0] }),
        vm(3, {}, { clusterIds: [0] }),
      ],
      clusters: [{ id: 0, name: 'default' }],
    });
    assert.equal(message(plan, 1), 'all hosts lack runtime qemu');
    assert.equal(
      message(plan, 2),
      'no host has free NUMA resources for 1 NUMA node, 2 vCPUs, PIN_POLICY=CORE',
      'hosts 2 and 3 are pinning hosts but report no topology',
    );
    assert.deepEqual(hostsOf(plan), { 3: 1 });
    const noPinHost = run({ hosts: [host(1)], vms: [vm(2, { VCPU: '2', TOPOLOGY: { PIN_POLICY: 'CORE' } })] });
    assert.equal(message(noPinHost, 2), 'no host with PIN_POLICY=PINNED for a pinned VM');
  });
});

describe('schedule: purity and determinism', () => {
  it('does not modify the snapshot and gives the same plan twice', () => {
    const snapshot: SchedulerSnapshot = {
      hosts: [host(1, { vmIds: [1] }), host(2)],
      datastores: [{ id: 0, name: 's', type: 'SYSTEM', clusterIds: [0], freeMb: 1000 }],
      vms: [vm(2, {}, { systemDiskMb: 10 }), vm(3, { SCHED_REQUIREMENTS: 'CURRENT_VMS != 2' })],
    };
    const before = JSON.stringify(snapshot);
    const a = schedule(snapshot);
    const b = schedule(snapshot);
    assert.equal(JSON.stringify(snapshot), before);
    assert.deepEqual(a, b);
  });
});
