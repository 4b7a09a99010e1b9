import { OneError } from '../core/errors.js';
import { type AttributeRecord, type AttributeTable, readInt } from '../core/expressions/index.js';
import { buildHostTable, type DynamicSlot, type HostDynamics } from './host-table.js';
import { buildNumaState, type HostNumaState } from './numa.js';
import { maxCapacity } from './reserved.js';
import type { SnapshotCluster, SnapshotHost } from './types.js';

/**
 * The hosts of one scheduling call as flat arrays indexed by position in id
 * order (so index order is id order, the tie-breaker everywhere), plus the
 * attribute table expressions read. Static facts are computed once per
 * snapshot; the usage arrays and the dynamic attributes change as VMs are
 * placed (`charge`). `version[h]` counts the placements on host h, so caches
 * keyed by it stay valid until the host changes.
 */
export class HostPool {
  readonly n: number;
  readonly hosts: readonly SnapshotHost[];
  readonly indexOfId = new Map<number, number>();
  readonly cluster: Int32Array;
  readonly monitored: Uint8Array;
  /** Indices of MONITORED hosts, in id order. */
  readonly monitoredList: Int32Array;
  readonly maxCpu: Float64Array;
  readonly maxMem: Float64Array;
  readonly cpuUsage: Float64Array;
  readonly memUsage: Float64Array;
  /** VMs placed on each host in this call (MAX_HOST). */
  readonly placed: Int32Array;
  readonly version: Int32Array;
  /** PIN_POLICY = PINNED. */
  readonly pinned: Uint8Array;
  readonly table: AttributeTable;
  readonly clusters: ReadonlyMap<number, SnapshotCluster>;
  private readonly dynamics: HostDynamics;
  private readonly runtimeMasks = new Map<string, Uint8Array>();
  private readonly clusterMasks = new Map<string, Uint8Array>();
  private readonly numa: (HostNumaState | null | undefined)[];
  private readonly localDs = new Map<number, Float64Array>();

  constructor(hosts: readonly SnapshotHost[], clusters: readonly SnapshotCluster[]) {
    this.clusters = new Map(clusters.map((c) => [c.id, c]));
    this.hosts = [...hosts].sort((a, b) => a.id - b.id);
    const n = this.hosts.length;
    this.n = n;
    this.cluster = new Int32Array(n);
    this.monitored = new Uint8Array(n);
    this.maxCpu = new Float64Array(n);
    this.maxMem = new Float64Array(n);
    this.cpuUsage = new Float64Array(n);
    this.memUsage = new Float64Array(n);
    this.placed = new Int32Array(n);
    this.version = new Int32Array(n);
    this.pinned = new Uint8Array(n);
    this.numa = new Array<HostNumaState | null | undefined>(n).fill(undefined);
    const monitored: number[] = [];
    const inputs = this.hosts.map((host, h) => {
      if (this.indexOfId.has(host.id)) throw new OneError('E_VALIDATION', `snapshot has host ${host.id} twice`);
      this.indexOfId.set(host.id, h);
      this.cluster[h] = host.clusterId;
      if (host.state === 'MONITORED') {
        this.monitored[h] = 1;
        monitored.push(h);
      }
      const cluster = this.clusters.get(host.clusterId);
      const reservedCpu = host.reserved?.cpu ?? lookup(host.template, cluster?.template, 'RESERVED_CPU');
      const reservedMem = host.reserved?.mem ?? lookup(host.template, cluster?.template, 'RESERVED_MEM');
      this.maxCpu[h] = maxCapacity(host.capacity.totalCpu, reservedCpu);
      this.maxMem[h] = maxCapacity(host.capacity.totalMemKb, reservedMem);
      this.cpuUsage[h] = host.usage.cpu;
      this.memUsage[h] = host.usage.memKb;
      return { host, maxCpu: this.maxCpu[h]!, maxMem: this.maxMem[h]! };
    });
    this.monitoredList = Int32Array.from(monitored);
    const built = buildHostTable(inputs, this.clusters);
    this.table = built.table;
    this.dynamics = built.dynamics;
    const pin = this.table.slotOf('PIN_POLICY');
    for (let h = 0; h < n; h++) {
      const v = pin === -1 ? undefined : this.table.get(h, pin);
      this.pinned[h] = typeof v === 'string' && v.toUpperCase() === 'PINNED' ? 1 : 0;
    }
  }

  /** 1 per host that reports `runtime`. */
  runtimeMask(runtime: string): Uint8Array {
    let mask = this.runtimeMasks.get(runtime);
    if (mask === undefined) {
      mask = Uint8Array.from(this.hosts, (host) => (host.runtimes.includes(runtime) ? 1 : 0));
      this.runtimeMasks.set(runtime, mask);
    }
    return mask;
  }

  /** 1 per host in one of `clusterIds`. */
  clusterMask(clusterIds: readonly number[]): Uint8Array {
    const key = clusterIds.join(',');
    let mask = this.clusterMasks.get(key);
    if (mask === undefined) {
      const set = new Set(clusterIds);
      mask = Uint8Array.from(this.cluster, (c) => (set.has(c) ? 1 : 0));
      this.clusterMasks.set(key, mask);
    }
    return mask;
  }

  /** The host's live NUMA state (built on first use), or null when it reported no topology. */
  numaState(h: number): HostNumaState | null {
    let state = this.numa[h];
    if (state === undefined) {
      const nodes = this.hosts[h]!.numa;
      if (nodes === undefined || nodes.length === 0) state = null;
      else {
        const vmsThread = this.intAttribute(h, 'VMS_THREAD') ?? 1;
        const isol = this.stringAttribute(h, 'ISOLCPUS') ?? '';
        const isolcpus = new Set(isol.split(',').flatMap((s) => (s.trim() === '' ? [] : [Number(s.trim())])));
        state = buildNumaState(nodes, vmsThread, isolcpus);
      }
      this.numa[h] = state;
    }
    return state;
  }

  /**
   * Live free MB of a local system datastore on every host (the host's own
   * figure, else the datastore's); callers charge placements into it.
   */
  localDatastoreFree(dsId: number, fallbackMb: number): Float64Array {
    let free = this.localDs.get(dsId);
    if (free === undefined) {
      const key = String(dsId);
      free = Float64Array.from(this.hosts, (host) => host.datastoreFreeMb?.[key] ?? fallbackMb);
      this.localDs.set(dsId, free);
    }
    return free;
  }

  /** Charges a placed VM to host h: allocation, measured figures, RUNNING_VMS, CURRENT_VMS. */
  charge(h: number, vmId: number, cpu: number, memKb: number): void {
    this.cpuUsage[h]! += cpu;
    this.memUsage[h]! += memKb;
    this.placed[h]! += 1;
    this.version[h]! += 1;
    const d = this.dynamics;
    this.add(d.cpuUsage, h, cpu);
    this.add(d.memUsage, h, memKb);
    this.add(d.runningVms, h, 1);
    this.add(d.freeCpu, h, -cpu);
    this.add(d.usedCpu, h, cpu);
    this.add(d.freeMemory, h, -memKb);
    this.add(d.usedMemory, h, memKb);
    this.table.addVm(h, vmId);
  }

  private add(d: DynamicSlot, h: number, delta: number): void {
    if (d.live[h] === 0) return;
    const current = this.table.floatColumn(d.slot)[h]!;
    if (!Number.isNaN(current)) this.table.setNumber(h, d.slot, current + delta);
  }

  stringAttribute(h: number, key: string): string | undefined {
    const slot = this.table.slotOf(key);
    const v = slot === -1 ? undefined : this.table.get(h, slot);
    return v === undefined ? undefined : String(v);
  }

  intAttribute(h: number, key: string): number | undefined {
    const v = this.stringAttribute(h, key);
    if (v === undefined) return undefined;
    const n = readInt(v);
    return Number.isNaN(n) ? undefined : n;
  }
}

/** A scalar from the host template, else the cluster template (case-insensitive key). */
function lookup(
  hostTemplate: AttributeRecord | undefined,
  clusterTemplate: AttributeRecord | undefined,
  key: string,
): string | number | undefined {
  for (const record of [hostTemplate, clusterTemplate]) {
    if (record === undefined) continue;
    const direct = record[key];
    if (typeof direct === 'string' || typeof direct === 'number') return direct;
    for (const [k, v] of Object.entries(record)) {
      if (k.toUpperCase() !== key) continue;
      const first = Array.isArray(v) ? v[0] : v;
      if (typeof first === 'string' || typeof first === 'number') return first;
    }
  }
  return undefined;
}
