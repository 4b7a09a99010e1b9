import { AttributeTable, type AttributeValue, forEachAttribute, VMS_KEY } from '../core/expressions/index.js';
import { HOST_STATES } from '../core/host-states.js';
import type { SnapshotCluster, SnapshotHost } from './types.js';

/*
 * The attributes a host requirement or rank reads, in OpenNebula's lookup
 * order (the XPath union of /HOST/TEMPLATE, /HOST/HOST_SHARE,
 * /HOST/HOST_SHARE/DATASTORES, /HOST/MONITORING/CAPACITY, /HOST/MONITORING/SYSTEM,
 * /HOST and /HOST/CLUSTER_TEMPLATE; the first match wins):
 *
 *   1. the host template (probe attributes such as HYPERVISOR, PIN_POLICY)
 *   2. HOST_SHARE: MAX_CPU, MAX_MEM, CPU_USAGE, MEM_USAGE, RUNNING_VMS, TOTAL_CPU, TOTAL_MEM
 *   3. monitoring: FREE_CPU, USED_CPU, FREE_MEMORY, USED_MEMORY, any probe value
 *   4. /HOST: ID, NAME, CLUSTER_ID, CLUSTER, STATE
 *   5. the cluster template
 *
 * Section prefixes in a quoted name (`"MONITORING/CAPACITY/FREE_CPU"`,
 * `"/HOST/TEMPLATE/X"`) are accepted and searched in the same union;
 * `"HOST/VMS/ID"` / `"VMS/ID"` are the ids of the VMs on the host.
 *
 * The allocation figures (CPU_USAGE, MEM_USAGE, RUNNING_VMS) and the measured
 * ones (FREE_/USED_ CPU and MEMORY) are dynamic: each placement made in this
 * scheduling call is charged to them (a new VM is assumed to use its full
 * allocation), so later VMs rank and filter against the updated host.
 */

const SECTIONS = [
  'TEMPLATE/',
  'HOST_SHARE/DATASTORES/',
  'HOST_SHARE/',
  'MONITORING/CAPACITY/',
  'MONITORING/SYSTEM/',
  'MONITORING/',
  'CLUSTER_TEMPLATE/',
];

export function hostNameResolver(name: string): string | typeof VMS_KEY {
  let n = name.toUpperCase();
  if (n.startsWith('/')) n = n.slice(1);
  if (n.startsWith('HOST/')) n = n.slice(5);
  if (n === 'VMS/ID' || n === 'VMS') return VMS_KEY;
  for (const prefix of SECTIONS) if (n.startsWith(prefix)) return n.slice(prefix.length);
  return n;
}

/** A dynamic attribute: its slot and, per host, whether the value is the one we update (not shadowed by the template). */
export interface DynamicSlot {
  readonly slot: number;
  readonly live: Uint8Array;
}

export interface HostDynamics {
  readonly cpuUsage: DynamicSlot;
  readonly memUsage: DynamicSlot;
  readonly runningVms: DynamicSlot;
  readonly freeCpu: DynamicSlot;
  readonly usedCpu: DynamicSlot;
  readonly freeMemory: DynamicSlot;
  readonly usedMemory: DynamicSlot;
}

export interface HostTableInput {
  readonly host: SnapshotHost;
  readonly maxCpu: number;
  readonly maxMem: number;
}

export function buildHostTable(
  inputs: readonly HostTableInput[],
  clusters: ReadonlyMap<number, SnapshotCluster>,
): { table: AttributeTable; dynamics: HostDynamics } {
  const n = inputs.length;
  const table = new AttributeTable(n, hostNameResolver);
  const dynamic = (key: string): DynamicSlot => {
    const slot = table.ensureSlot(key);
    table.markDynamic(slot);
    return { slot, live: new Uint8Array(n) };
  };
  const dynamics: HostDynamics = {
    cpuUsage: dynamic('CPU_USAGE'),
    memUsage: dynamic('MEM_USAGE'),
    runningVms: dynamic('RUNNING_VMS'),
    freeCpu: dynamic('FREE_CPU'),
    usedCpu: dynamic('USED_CPU'),
    freeMemory: dynamic('FREE_MEMORY'),
    usedMemory: dynamic('USED_MEMORY'),
  };
  const byKey = new Map<string, DynamicSlot>([
    ['CPU_USAGE', dynamics.cpuUsage],
    ['MEM_USAGE', dynamics.memUsage],
    ['RUNNING_VMS', dynamics.runningVms],
    ['FREE_CPU', dynamics.freeCpu],
    ['USED_CPU', dynamics.usedCpu],
    ['FREE_MEMORY', dynamics.freeMemory],
    ['USED_MEMORY', dynamics.usedMemory],
  ]);
  for (let h = 0; h < n; h++) {
    const { host, maxCpu, maxMem } = inputs[h]!;
    const put = (key: string, value: AttributeValue | readonly AttributeValue[]): void => {
      table.setFirst(h, key, value);
    };
    // Sections whose dynamic attributes we keep up to date mark the host live for them.
    const putLive = (key: string, value: AttributeValue | readonly AttributeValue[]): void => {
      if (!table.setFirst(h, key, value)) return;
      const d = byKey.get(key);
      if (d !== undefined) d.live[h] = 1;
    };
    if (host.template !== undefined) forEachAttribute(host.template, put);
    put('MAX_CPU', maxCpu);
    put('MAX_MEM', maxMem);
    putLive('CPU_USAGE', host.usage.cpu);
    putLive('MEM_USAGE', host.usage.memKb);
    putLive('RUNNING_VMS', host.usage.runningVms);
    put('TOTAL_CPU', host.capacity.totalCpu);
    put('TOTAL_MEM', host.capacity.totalMemKb);
    if (host.monitoring !== undefined) forEachAttribute(host.monitoring, putLive);
    put('ID', host.id);
    put('NAME', host.name);
    put('CLUSTER_ID', host.clusterId);
    const cluster = clusters.get(host.clusterId);
    if (cluster !== undefined) put('CLUSTER', cluster.name);
    put('STATE', HOST_STATES[host.state]);
    if (cluster?.template !== undefined) forEachAttribute(cluster.template, put);
    if (host.vmIds !== undefined) for (const id of host.vmIds) table.addVm(h, id);
  }
  return { table, dynamics };
}
