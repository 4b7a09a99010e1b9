import type { SchedulerContext } from './context.js';
import { numaFits } from './numa.js';
import {
  OK,
  R_ACL,
  R_CLUSTER,
  R_CPU,
  R_CURRENT,
  R_DS_NONE,
  R_DS_REQUIREMENTS,
  R_DS_ROOM,
  R_MAX_HOST,
  R_MEMORY,
  R_NETWORK,
  R_NUMA,
  R_PIN,
  R_REQUIREMENTS,
  R_RUNTIME,
  R_STATE,
  R_VM_GROUP,
} from './reasons.js';
import type { VmRequest } from './vm-request.js';

const DS_STAGES = [R_DS_NONE, R_DS_REQUIREMENTS, R_DS_ROOM];

/**
 * The host filters, cheapest first, in the order that decides which reason a
 * rejection counts under (reasons.ts). `check` is pure with respect to the
 * scheduling state: it only fills this object's scratch fields (the
 * datastore and networks chosen on the host last checked successfully).
 */
export class HostChecker {
  /** Datastore index chosen on the last host that passed, -1 for none. */
  chosenDs = -1;
  /** Network index per auto NIC, for the last host that passed. */
  readonly chosenNets: number[] = [];
  /** Lowest NIC index that found no network on a host since `resetFailures` (-1: none). */
  nicFailure = -1;

  constructor(private readonly ctx: SchedulerContext) {}

  resetFailures(): void {
    this.nicFailure = -1;
  }

  check(req: VmRequest, h: number): number {
    const hosts = this.ctx.hosts;
    if (hosts.monitored[h] === 0) return R_STATE;
    if (h === req.currentHost) return R_CURRENT;
    if (hosts.placed[h]! >= this.ctx.maxHost) return R_MAX_HOST;
    if (req.clusterMask !== null && req.clusterMask[h] === 0) return R_CLUSTER;
    if (req.aclMask !== null && req.aclMask[h] === 0) return R_ACL;
    if (req.runtimeMask !== null && req.runtimeMask[h] === 0) return R_RUNTIME;
    if (hosts.maxCpu[h]! - hosts.cpuUsage[h]! < req.needCpu) return R_CPU;
    if (hosts.maxMem[h]! - hosts.memUsage[h]! < req.needMem) return R_MEMORY;
    if (hosts.pinned[h] !== req.pinned) return R_PIN;
    if (!this.requirementOk(req, h)) return R_REQUIREMENTS;
    if (req.ds !== null) {
      const reason = this.pickDatastore(req, h);
      if (reason !== OK) return reason;
    } else this.chosenDs = -1;
    if (req.nics.length > 0 && !this.pickNetworks(req, h)) return R_NETWORK;
    if (req.role !== null && !this.groupOk(req, h)) return R_VM_GROUP;
    if (req.topology !== null) {
      const state = hosts.numaState(h);
      if (state === null || !numaFits(state, req.topology)) return R_NUMA;
    }
    return OK;
  }

  private requirementOk(req: VmRequest, h: number): boolean {
    const r = req.requirement;
    if (r === null) return true;
    const v = r.dynamic ? this.ctx.hosts.version[h]! : 0;
    if (r.ver[h] !== v) {
      r.val[h] = r.test(h) ? 1 : 0;
      r.ver[h] = v;
    }
    return r.val[h] === 1;
  }

  /** The filters that do not depend on capacity, for the members an affined-set leader brings along. */
  private staticOk(req: VmRequest, h: number): boolean {
    const hosts = this.ctx.hosts;
    if (req.clusterMask !== null && req.clusterMask[h] === 0) return false;
    if (req.aclMask !== null && req.aclMask[h] === 0) return false;
    if (req.runtimeMask !== null && req.runtimeMask[h] === 0) return false;
    if (hosts.pinned[h] !== req.pinned) return false;
    return this.requirementOk(req, h);
  }

  private groupOk(req: VmRequest, h: number): boolean {
    const hostId = this.ctx.hosts.hosts[h]!.id;
    if (!this.ctx.groups.allows(req.role!, h, hostId, req.recordedAt)) return false;
    if (req.leading !== null) for (const member of req.leading) if (!this.staticOk(member, h)) return false;
    return true;
  }

  /** Best system datastore in the host's cluster with room (SCHED_DS_* and the datastore policy). */
  private pickDatastore(req: VmRequest, h: number): number {
    const pool = this.ctx.datastores!;
    const hosts = this.ctx.hosts;
    const ds = req.ds!;
    const candidates = pool.inCluster(hosts.cluster[h]!);
    let stage = 0;
    let best = -1;
    let bestScore = 0;
    for (let k = 0; k < candidates.length; k++) {
      const d = candidates[k]!;
      if (ds.acl !== null && ds.acl[d] === 0) continue;
      if (stage < 1) stage = 1;
      if (ds.requirement !== null && !ds.requirement.test(d)) continue;
      stage = 2;
      const free =
        pool.shared[d] === 1 ? pool.free[d]! : hosts.localDatastoreFree(pool.ids[d]!, pool.list[d]!.freeMb)[h]!;
      // OpenNebula: a datastore fits when the VM needs nothing or strictly less than what is free.
      if (ds.needMb !== 0 && !(ds.needMb < free)) continue;
      const score = ds.rank.score(d);
      if (best === -1 || score > bestScore) {
        best = d;
        bestScore = score;
      }
    }
    if (best === -1) return DS_STAGES[stage]!;
    this.chosenDs = best;
    return OK;
  }

  /** One network per auto NIC, in NIC order, each the best in the host's cluster with a free lease. */
  private pickNetworks(req: VmRequest, h: number): boolean {
    const pool = this.ctx.networks!;
    const candidates = pool.inCluster(this.ctx.hosts.cluster[h]!);
    const chosen = this.chosenNets;
    chosen.length = 0;
    for (const nic of req.nics) {
      let best = -1;
      let bestScore = 0;
      for (let k = 0; k < candidates.length; k++) {
        const i = candidates[k]!;
        if (req.netAcl !== null && req.netAcl[i] === 0) continue;
        let taken = 0;
        for (const c of chosen) if (c === i) taken++;
        if (req.differentVnets && taken > 0) continue;
        if (pool.free[i]! - taken < 1) continue;
        if (nic.requirement !== null && !nic.requirement.test(i)) continue;
        const score = nic.rank.score(i);
        if (best === -1 || score > bestScore) {
          best = i;
          bestScore = score;
        }
      }
      if (best === -1) {
        if (this.nicFailure === -1 || nic.nicIndex < this.nicFailure) this.nicFailure = nic.nicIndex;
        return false;
      }
      chosen.push(best);
    }
    return true;
  }
}
