import type { Template } from '../../core/template/types.js';
import type { HostNumaNode, PendingVm, SnapshotHost } from '../types.js';

/** A MONITORED host with `cores` cores and `memGb` GB, nothing allocated. Override anything. */
export function host(id: number, overrides: Partial<SnapshotHost> = {}, cores = 8, memGb = 32): SnapshotHost {
  return {
    id,
    name: `host${id}`,
    state: 'MONITORED',
    clusterId: 0,
    capacity: { totalCpu: cores * 100, totalMemKb: memGb * 1024 * 1024 },
    usage: { cpu: 0, memKb: 0, runningVms: 0 },
    runtimes: ['crun', 'qemu'],
    ...overrides,
  };
}

/** A pending VM with CPU/MEMORY (MB) and extra template attributes. */
export function vm(id: number, template: Template = {}, overrides: Partial<PendingVm> = {}): PendingVm {
  return { id, uid: 0, gid: 0, template: { CPU: '1', MEMORY: '1024', ...template }, ...overrides };
}

/**
 * A NUMA topology: `nodes` nodes of `coresPerNode` cores with `threads`
 * threads each (cpu ids numbered node by node, core by core), `memGb` per
 * node and `pages1g` free 1 GB hugepages per node.
 */
export function numaTopology(
  nodes: number,
  coresPerNode: number,
  threads: number,
  memGb = 16,
  pages1g = 0,
): HostNumaNode[] {
  let cpu = 0;
  return Array.from({ length: nodes }, (_, n) => ({
    id: n,
    cores: Array.from({ length: coresPerNode }, (_, c) => ({
      id: n * coresPerNode + c,
      cpus: Array.from({ length: threads }, () => ({ id: cpu++ })),
    })),
    memory: { totalKb: memGb * 1024 * 1024, usedKb: 0 },
    hugepages: pages1g > 0 ? [{ sizeKb: 1024 * 1024, total: pages1g, free: pages1g }] : [],
  }));
}
