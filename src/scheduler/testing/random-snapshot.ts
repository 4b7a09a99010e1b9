import { Prng } from '../../core/template/testing/prng.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import type {
  HostNumaNode,
  HostPolicy,
  PendingVm,
  SchedulerConfig,
  SchedulerSnapshot,
  SnapshotHost,
  SnapshotVmGroup,
} from '../types.js';

/** Requirements that read only static host attributes (checked again by the invariants). */
export const STATIC_REQUIREMENTS = [
  'ZONE = "z1"',
  'ZONE = "z*" & !(RACK = 3)',
  'NAME = "h1*" | TAGS @> gpu',
  'HYPERVISOR = kvm',
  'RACK > 2',
  'CLUSTER_ID = 1 | CLUSTER_ID = 2',
  'ID != 3 & ID != 4',
];

const DYNAMIC_REQUIREMENTS = [
  'FREE_CPU > 300',
  'RUNNING_VMS < 3',
  'CURRENT_VMS != 1 & CURRENT_VMS != 2',
  'CURRENT_VMS = 5',
  'FREE_MEMORY > $MEMORY',
  'FREE_CPU >',
];

const RANKS = [
  'FREE_CPU',
  '-RUNNING_VMS',
  'RUNNING_VMS',
  'PRIORITY',
  'FREE_MEMORY / 1024 - RUNNING_VMS * 100',
  'RACK * 2 - LOAD',
  'ID',
];

function numa(rng: Prng): HostNumaNode[] {
  const nodes = rng.int(1, 3);
  const cores = rng.int(1, 4);
  const threads = rng.pick([1, 2, 2, 4]);
  let cpu = 0;
  const ids = Array.from({ length: nodes }, (_, i) => i);
  return ids.map((n) => ({
    id: n,
    cores: Array.from({ length: cores }, (_, c) => ({
      id: n * cores + c,
      cpus: Array.from({ length: threads }, () => ({
        id: cpu++,
        ...(rng.chance(0.1) ? { isolated: true } : {}),
        ...(rng.chance(0.15) ? { vms: [900] } : {}),
      })),
    })),
    memory: { totalKb: rng.int(2, 8) * 1024 * 1024, usedKb: rng.int(0, 2) * 1024 * 1024 },
    hugepages: rng.chance(0.6) ? [{ sizeKb: 1024 * 1024, total: 4, free: rng.int(0, 4) }] : [],
    distance: rng.chance(0.5) ? [n, ...ids.filter((x) => x !== n).reverse()] : [n, ...ids.filter((x) => x !== n)],
  }));
}

function randomHost(rng: Prng, id: number): SnapshotHost {
  const cores = rng.int(1, 8);
  const memKb = rng.int(2, 16) * 1024 * 1024;
  const pinning = rng.chance(0.3);
  const running = rng.int(0, 4);
  return {
    id,
    name: `h${id}`,
    state: rng.chance(0.85) ? 'MONITORED' : rng.pick(['DISABLED', 'ERROR', 'OFFLINE', 'INIT'] as const),
    clusterId: rng.int(0, 2),
    capacity: { totalCpu: cores * 100, totalMemKb: memKb },
    ...(rng.chance(0.3)
      ? { reserved: { cpu: rng.pick([50, '10%', '-50%', -100]), mem: rng.pick([0, '5%', '-20%']) } }
      : {}),
    usage: { cpu: rng.int(0, cores) * 50, memKb: rng.int(0, 4) * 256 * 1024, runningVms: running },
    template: {
      ZONE: `z${rng.int(0, 2)}`,
      RACK: String(rng.int(0, 5)),
      HYPERVISOR: rng.pick(['kvm', 'lxc']),
      PRIORITY: String(rng.int(0, 3)),
      ...(rng.chance(0.3) ? { TAGS: ['ssd', 'gpu'] } : {}),
      ...(pinning ? { PIN_POLICY: 'PINNED' } : {}),
      ...(rng.chance(0.2) ? { VMS_THREAD: '2' } : {}),
    },
    monitoring: {
      FREE_CPU: rng.int(0, cores) * 100,
      FREE_MEMORY: rng.int(0, 8) * 1024 * 1024,
      LOAD: String(rng.int(0, 4)),
    },
    runtimes: rng.pick([['crun'], ['crun', 'qemu'], ['qemu']]),
    vmIds: Array.from({ length: running }, () => rng.int(1, 12)),
    ...(pinning || rng.chance(0.3) ? { numa: numa(rng) } : {}),
    ...(rng.chance(0.5) ? { datastoreFreeMb: { '2': rng.int(0, 3) * 1000 } } : {}),
  };
}

function randomVm(rng: Prng, id: number, groups: readonly SnapshotVmGroup[]): PendingVm {
  const t: Template = {
    CPU: rng.pick(['0.5', '1', '2', '0.25']),
    VCPU: String(rng.int(1, 4)),
    MEMORY: String(rng.pick([256, 512, 1024, 2048])),
  };
  if (rng.chance(0.3))
    t.SCHED_REQUIREMENTS = rng.chance(0.6) ? rng.pick(STATIC_REQUIREMENTS) : rng.pick(DYNAMIC_REQUIREMENTS);
  if (rng.chance(0.3)) t.SCHED_RANK = rng.pick(RANKS);
  if (rng.chance(0.2)) t.USER_PRIORITY = String(rng.int(-2, 2));
  if (rng.chance(0.2)) {
    const topology: TemplateVector = { PIN_POLICY: rng.pick(['CORE', 'THREAD', 'SHARED', 'NONE']) };
    if (rng.chance(0.4)) topology.HUGEPAGE_SIZE = '1024';
    if (rng.chance(0.2)) topology.THREADS = rng.pick(['1', '2']);
    if (topology.PIN_POLICY === 'NONE' && topology.HUGEPAGE_SIZE === undefined)
      topology.NODE_AFFINITY = String(rng.int(0, 2));
    if (rng.chance(0.3) && topology.PIN_POLICY !== 'NONE') {
      topology.SOCKETS = '2';
      t.VCPU = '2';
      t.MEMORY = '2048';
    }
    t.TOPOLOGY = topology;
  }
  if (rng.chance(0.2)) {
    t.NIC = rng.chance(0.5)
      ? { NETWORK_MODE: 'auto' }
      : [
          { NETWORK_MODE: 'auto', SCHED_RANK: '-FREE_LEASES' },
          { NETWORK_MODE: 'auto', SCHED_REQUIREMENTS: 'KIND = b' },
        ];
    if (rng.chance(0.3)) t.DIFFERENT_VNETS = 'YES';
  }
  if (rng.chance(0.15)) t.SCHED_DS_REQUIREMENTS = rng.pick(['NAME = "s*"', 'TM_MAD = ssh']);
  if (rng.chance(0.15)) t.SCHED_DS_RANK = rng.pick(['-FREE_MB', 'PRIORITY']);
  const resched = rng.chance(0.08);
  const group = groups.length > 0 && rng.chance(0.25) ? rng.pick(groups) : undefined;
  return {
    id,
    uid: rng.pick([0, 1, 2]),
    gid: rng.pick([0, 1, 3]),
    template: t,
    ...(rng.chance(0.5) ? { runtime: rng.pick(['crun', 'qemu']) } : {}),
    ...(rng.chance(0.4) ? { clusterIds: rng.chance(0.7) ? [rng.int(0, 2)] : [0, rng.int(1, 2)] } : {}),
    ...(rng.chance(0.6) ? { systemDiskMb: rng.pick([0, 100, 500, 2000]) } : {}),
    ...(resched ? { resched: true, hostId: rng.int(0, 10), datastoreId: 1 } : {}),
    ...(group === undefined ? {} : { vmGroup: { id: group.id, role: rng.pick(group.roles).name } }),
  };
}

/** A random fleet and pending VMs exercising every filter, ranker and rule. */
export function randomSnapshot(
  seed: number,
  size: { hosts: number; vms: number } = { hosts: 14, vms: 40 },
): SchedulerSnapshot {
  const rng = new Prng(seed);
  const hosts = Array.from({ length: rng.int(0, size.hosts) }, (_, i) => randomHost(rng, i));
  const groups: SnapshotVmGroup[] = rng.chance(0.6)
    ? [
        {
          id: 1,
          name: 'g1',
          roles: [
            { name: 'anti', policy: 'ANTI_AFFINED', vmIds: [1] },
            { name: 'aff', policy: 'AFFINED' },
            { name: 'plain', hostAntiAffined: [0, 1] },
            { name: 'other', hostAffined: [2, 3, 4, 5, 6] },
          ],
          antiAffined: [['anti', 'other']],
          affined: rng.chance(0.5) ? [['plain', 'aff']] : [],
        },
      ]
    : [];
  const vms = Array.from({ length: rng.int(0, size.vms) }, (_, i) => randomVm(rng, 20 + i, groups));
  const snapshot: SchedulerSnapshot = {
    hosts,
    clusters: [
      { id: 0, name: 'c0', template: { PRIORITY: '7' } },
      { id: 1, name: 'c1', template: { RESERVED_CPU: '20%' } },
    ],
    vms,
    vmGroups: groups,
    ...(rng.chance(0.7)
      ? {
          datastores: [
            { id: 1, name: 'shared1', type: 'SYSTEM' as const, clusterIds: [0, 1], freeMb: rng.int(0, 6) * 1000 },
            {
              id: 2,
              name: 'local',
              type: 'SYSTEM' as const,
              clusterIds: [1, 2],
              freeMb: 500,
              shared: false,
              template: { TM_MAD: 'ssh' },
            },
            {
              id: 3,
              name: 'shared2',
              type: 'SYSTEM' as const,
              clusterIds: [2],
              freeMb: rng.int(0, 4) * 1000,
              template: { PRIORITY: '3' },
            },
          ],
        }
      : {}),
    networks: [
      { id: 1, name: 'n1', clusterIds: [0, 1, 2], freeLeases: rng.int(0, 6), template: { KIND: 'a' } },
      { id: 2, name: 'n2', clusterIds: [1], freeLeases: rng.int(0, 6), template: { KIND: 'b' } },
    ],
    ...(rng.chance(0.3)
      ? { acl: { hosts: { byUser: { '1': [0, 1, 2, 3], '2': '*' as const }, byGroup: { '3': [5, 6, 7] } } } }
      : {}),
  };
  return snapshot;
}

export function randomConfig(seed: number): SchedulerConfig {
  const rng = new Prng(seed ^ 0x9e3779b9);
  const policies: HostPolicy[] = ['packing', 'striping', 'load-aware', 'fixed', { rank: 'FREE_MEMORY - RUNNING_VMS' }];
  return {
    hostPolicy: rng.chance(0.2) ? [rng.pick(policies), rng.pick(policies)] : rng.pick(policies),
    datastorePolicy: rng.pick(['packing', 'striping', 'fixed'] as const),
    networkPolicy: rng.pick(['packing', 'striping'] as const),
    ...(rng.chance(0.2) ? { maxHost: rng.int(1, 3) } : {}),
    ...(rng.chance(0.2) ? { maxDispatch: rng.int(1, 10) } : {}),
    ...(rng.chance(0.1) ? { memorySystemDsScale: 1 } : {}),
  };
}
