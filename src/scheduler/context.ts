import type { OneError } from '../core/errors.js';
import {
  compileRank,
  compileRequirements,
  type LinkedRank,
  type LinkedRequirements,
  type RowPredicate,
} from '../core/expressions/index.js';
import { AccessMasks } from './acl.js';
import { HostPool } from './host-pool.js';
import { RankOrdering } from './ordering.js';
import { DatastorePool, NetworkPool } from './pools.js';
import { REASON_COUNT } from './reasons.js';
import type { DatastorePolicy, HostPolicy, NetworkPolicy, SchedulerConfig, SchedulerSnapshot } from './types.js';
import { VmGroups } from './vm-groups.js';

/**
 * A host requirement with its result cached per host: for good when it reads
 * only static attributes, else until the host's next placement.
 */
export interface CachedRequirement {
  readonly test: RowPredicate;
  readonly dynamic: boolean;
  /** Host version the cached result belongs to (-1: none; static results use version 0). */
  readonly ver: Int32Array;
  readonly val: Uint8Array;
}

/** At most this many rank orderings are kept; VMs needing others use the scan. */
const MAX_ORDERINGS = 256;

export const HOST_POLICY_RANKS: Readonly<Record<Exclude<HostPolicy, object>, string>> = {
  packing: 'RUNNING_VMS',
  striping: '-RUNNING_VMS',
  'load-aware': 'FREE_CPU',
  fixed: 'PRIORITY',
};

export const DATASTORE_POLICY_RANKS: Readonly<Record<Exclude<DatastorePolicy, object>, string>> = {
  packing: '-FREE_MB',
  striping: 'FREE_MB',
  fixed: 'PRIORITY',
};

export const NETWORK_POLICY_RANKS: Readonly<Record<Exclude<NetworkPolicy, object>, string>> = {
  packing: '-FREE_LEASES',
  striping: 'FREE_LEASES',
  fixed: 'PRIORITY',
};

export function policyRank<P extends string>(
  policy: P | { readonly rank: string },
  table: Readonly<Record<P, string>>,
): string {
  return typeof policy === 'string' ? table[policy] : policy.rank;
}

/**
 * Everything one `schedule()` call works with: the host, datastore and
 * network pools built from the snapshot, ACL masks, VM groups, compiled and
 * linked expressions (each distinct text compiled once), rank orderings, and
 * the per-VM rejection counters.
 */
export class SchedulerContext {
  readonly hosts: HostPool;
  readonly datastores: DatastorePool | null;
  readonly networks: NetworkPool | null;
  readonly hostAcl: AccessMasks;
  readonly dsAcl: AccessMasks;
  readonly netAcl: AccessMasks;
  readonly groups: VmGroups;
  readonly counts = new Int32Array(REASON_COUNT);
  readonly maxHost: number;
  readonly maxDispatch: number;
  readonly maxVm: number;
  readonly memorySystemDsScale: number;
  readonly indexed: boolean;
  /** Default host rank texts (one per configured policy). */
  readonly hostRanks: readonly string[];
  readonly dsRank: string;
  readonly nicRank: string;
  private readonly hostRequirements = new Map<string, CachedRequirement | OneError>();
  private readonly hostRankCache = new Map<string, LinkedRank | OneError>();
  private readonly dsRequirements = new Map<string, LinkedRequirements | OneError>();
  private readonly dsRankCache = new Map<string, LinkedRank | OneError>();
  private readonly netRequirements = new Map<string, LinkedRequirements | OneError>();
  private readonly netRankCache = new Map<string, LinkedRank | OneError>();
  /** Orderings by rank text, then cluster key, then pinned (0/1). */
  private readonly orderings = new Map<string, Map<string, (RankOrdering | undefined)[]>>();
  private readonly orderingList: RankOrdering[] = [];

  constructor(snapshot: SchedulerSnapshot, config: SchedulerConfig) {
    this.hosts = new HostPool(snapshot.hosts, snapshot.clusters ?? []);
    this.datastores = snapshot.datastores === undefined ? null : new DatastorePool(snapshot.datastores);
    this.networks = snapshot.networks === undefined ? null : new NetworkPool(snapshot.networks);
    const hostIds = this.hosts.hosts.map((h) => h.id);
    this.hostAcl = new AccessMasks(snapshot.acl?.hosts, hostIds);
    this.dsAcl = new AccessMasks(snapshot.acl?.datastores, this.datastores?.ids ?? []);
    this.netAcl = new AccessMasks(snapshot.acl?.networks, this.networks?.ids ?? []);
    this.groups = new VmGroups(snapshot.vmGroups ?? [], snapshot.vms, this.hosts);
    this.maxHost = limit(config.maxHost);
    this.maxDispatch = limit(config.maxDispatch);
    this.maxVm = limit(config.maxVm);
    this.memorySystemDsScale = config.memorySystemDsScale ?? 0;
    this.indexed = (config.selection ?? 'indexed') === 'indexed';
    const policies = config.hostPolicy ?? 'striping';
    const list = (Array.isArray(policies) ? policies : [policies]) as readonly HostPolicy[];
    this.hostRanks = list.map((p) => policyRank(p, HOST_POLICY_RANKS));
    this.dsRank = policyRank(config.datastorePolicy ?? 'striping', DATASTORE_POLICY_RANKS);
    this.nicRank = policyRank(config.networkPolicy ?? 'striping', NETWORK_POLICY_RANKS);
  }

  hostRequirement(text: string, attribute: string): CachedRequirement | OneError {
    let entry = this.hostRequirements.get(text);
    if (entry === undefined) {
      entry = attempt(() => {
        const { test, dynamic } = compileRequirements(text, attribute).link(this.hosts.table);
        const n = this.hosts.n;
        return { test, dynamic, ver: new Int32Array(n).fill(-1), val: new Uint8Array(n) };
      });
      this.hostRequirements.set(text, entry);
    }
    return entry;
  }

  private defaults: readonly (LinkedRank | OneError)[] | undefined;

  /** The configured policies' ranks, linked once. */
  defaultHostRanks(): readonly (LinkedRank | OneError)[] {
    this.defaults ??= this.hostRanks.map((text) => this.hostRank(text, 'SCHED_RANK'));
    return this.defaults;
  }

  hostRank(text: string, attribute: string): LinkedRank | OneError {
    return cached(this.hostRankCache, text, () => compileRank(text, attribute).link(this.hosts.table));
  }

  dsRequirement(text: string): LinkedRequirements | OneError {
    return cached(this.dsRequirements, text, () =>
      compileRequirements(text, 'SCHED_DS_REQUIREMENTS').link(this.datastores!.table),
    );
  }

  dsRankOf(text: string, attribute: string): LinkedRank | OneError {
    return cached(this.dsRankCache, text, () => compileRank(text, attribute).link(this.datastores!.table));
  }

  netRequirement(text: string, attribute: string): LinkedRequirements | OneError {
    return cached(this.netRequirements, text, () => compileRequirements(text, attribute).link(this.networks!.table));
  }

  netRankOf(text: string, attribute: string): LinkedRank | OneError {
    return cached(this.netRankCache, text, () => compileRank(text, attribute).link(this.networks!.table));
  }

  /**
   * The ordering of the MONITORED hosts in a VM's scope (its clusters and
   * whether it is pinned: the static filters that split a fleet most) by a
   * rank text, created on first use; null once the cap is reached.
   */
  ordering(
    text: string,
    rank: LinkedRank,
    clusterKey: string,
    clusterMask: Uint8Array | null,
    pinned: number,
  ): RankOrdering | null {
    let byCluster = this.orderings.get(text);
    if (byCluster === undefined) {
      byCluster = new Map();
      this.orderings.set(text, byCluster);
    }
    let pair = byCluster.get(clusterKey);
    if (pair === undefined) {
      pair = [undefined, undefined];
      byCluster.set(clusterKey, pair);
    }
    let o = pair[pinned];
    if (o === undefined) {
      if (this.orderingList.length >= MAX_ORDERINGS) return null;
      const hosts = this.hosts;
      const scope = hosts.monitoredList.filter(
        (h) => hosts.pinned[h] === pinned && (clusterMask === null || clusterMask[h] === 1),
      );
      o = new RankOrdering(scope, hosts.n, rank.score, rank.dynamic);
      pair[pinned] = o;
      this.orderingList.push(o);
    }
    o.refresh();
    return o;
  }

  /** Host h changed: every ordering must re-place it. */
  hostChanged(h: number): void {
    for (const o of this.orderingList) o.markDirty(h);
  }
}

function limit(value: number | undefined): number {
  return value === undefined || value <= 0 ? Number.POSITIVE_INFINITY : value;
}

function attempt<T>(fn: () => T): T | OneError {
  try {
    return fn();
  } catch (err) {
    return err as OneError;
  }
}

function cached<T>(map: Map<string, T | OneError>, text: string, make: () => T): T | OneError {
  let entry = map.get(text);
  if (entry === undefined) {
    entry = attempt(make);
    map.set(text, entry);
  }
  return entry;
}
