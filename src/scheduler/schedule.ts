import { SchedulerContext } from './context.js';
import { HostChecker } from './filters.js';
import { rejections, unplacedMessage } from './messages.js';
import { placeNuma } from './numa.js';
import { OK } from './reasons.js';
import { selectHost } from './select.js';
import type {
  NicPlacement,
  NumaPlacement,
  Placement,
  SchedulerConfig,
  SchedulerPlan,
  SchedulerSnapshot,
  Unplaced,
} from './types.js';
import { buildRequest, type VmRequest } from './vm-request.js';

/**
 * Places pending VMs on hosts: the whole scheduler. Pure — the snapshot is
 * not modified, nothing is read or written outside it, and the same snapshot
 * and config always give the same plan.
 *
 * VMs are taken by USER_PRIORITY (highest first), then id (lowest first). For
 * each, every host runs the filters (reasons.ts): state, current host
 * (rescheduling), MAX_HOST, cluster, ACL, runtime, capacity, PIN_POLICY,
 * SCHED_REQUIREMENTS, system datastore, auto-NIC networks, VM group rules and
 * NUMA fit; the passing hosts are ranked by the VM's SCHED_RANK or the
 * configured policies; the best wins (lowest host id on ties). Each placement
 * is charged to its host, datastore and networks at once, so later VMs see
 * it. A VM no host accepts is returned in `unplaced` with a SCHED_MESSAGE.
 * Placements stop after `maxDispatch`.
 */
export function schedule(snapshot: SchedulerSnapshot, config: SchedulerConfig = {}): SchedulerPlan {
  const ctx = new SchedulerContext(snapshot, config);
  const checker = new HostChecker(ctx);
  const requests = snapshot.vms
    .map((vm) => buildRequest(ctx, vm))
    .sort((a, b) => b.priority - a.priority || a.id - b.id)
    .slice(0, Number.isFinite(ctx.maxVm) ? ctx.maxVm : undefined);
  const byId = new Map<number, VmRequest>();
  for (const r of requests) if (r.role !== null) byId.set(r.id, r);
  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  const fail = (req: VmRequest, message: string, withCounts: boolean): void => {
    req.done = true;
    unplaced.push({ vmId: req.id, message, rejections: withCounts ? rejections(ctx) : {} });
  };
  const dispatchFull = () => placements.length >= ctx.maxDispatch;
  const fullMessage = `not dispatched: MAX_DISPATCH (${ctx.maxDispatch}) placements reached in this cycle`;

  const place = (req: VmRequest, h: number): void => {
    placements.push(commit(ctx, checker, req, h));
    req.done = true;
  };

  for (const req of requests) {
    if (req.done) continue;
    if (req.error !== null) {
      fail(req, req.error, false);
      continue;
    }
    if (dispatchFull()) {
      fail(req, fullMessage, false);
      continue;
    }
    const led = leadAffinedSets(ctx, req, byId);
    const h = selectHost(ctx, checker, req);
    if (h === -1) {
      fail(req, unplacedMessage(ctx, req, checker.nicFailure), true);
      continue;
    }
    place(req, h);
    // Members of the affined sets this VM leads follow it to its host.
    for (const member of led) {
      if (member.done) continue;
      if (dispatchFull()) {
        fail(member, fullMessage, false);
        continue;
      }
      checker.resetFailures();
      const code = checker.check(member, h);
      if (code === OK) place(member, h);
      else {
        ctx.counts.fill(0);
        ctx.counts[code] = 1;
        const reason = unplacedMessage(ctx, member, checker.nicFailure);
        fail(
          member,
          `affined with VM ${req.id} on host ${ctx.hosts.hosts[h]!.name}, which does not fit: ${reason}`,
          true,
        );
      }
    }
  }
  return { placements, unplaced };
}

/**
 * When the VM is the first of an affined set to be scheduled, the set's other
 * pending members must fit on the same host: the capacity filter tests their
 * sum and the group filter their other requirements. Returns those members.
 */
const NONE: readonly VmRequest[] = [];

function leadAffinedSets(
  ctx: SchedulerContext,
  req: VmRequest,
  byId: ReadonlyMap<number, VmRequest>,
): readonly VmRequest[] {
  req.needCpu = req.cpu;
  req.needMem = req.memKb;
  req.leading = null;
  if (req.role === null) return NONE;
  const members: VmRequest[] = [];
  for (const set of ctx.groups.ledSets(req.role, req.recordedAt)) {
    for (const id of set.members) {
      const m = byId.get(id);
      if (m === undefined || m === req || m.done || m.error !== null || members.includes(m)) continue;
      members.push(m);
    }
  }
  if (members.length === 0) return NONE;
  members.sort((a, b) => b.priority - a.priority || a.id - b.id);
  for (const m of members) {
    req.needCpu += m.cpu;
    req.needMem += m.memKb;
  }
  req.leading = members;
  return members;
}

/** Charges a placement everywhere and describes it. */
function commit(ctx: SchedulerContext, checker: HostChecker, req: VmRequest, h: number): Placement {
  const hosts = ctx.hosts;
  let numa: NumaPlacement | undefined;
  if (req.topology !== null) numa = placeNuma(hosts.numaState(h)!, req.topology) ?? undefined;
  hosts.charge(h, req.id, req.cpu, req.memKb);
  let datastoreId = req.vm.resched === true && req.vm.datastoreId !== undefined ? req.vm.datastoreId : -1;
  if (req.ds !== null && checker.chosenDs !== -1) {
    const pool = ctx.datastores!;
    const d = checker.chosenDs;
    datastoreId = pool.ids[d]!;
    if (pool.shared[d] === 1) pool.charge(d, req.ds.needMb);
    else hosts.localDatastoreFree(datastoreId, pool.list[d]!.freeMb)[h]! -= req.ds.needMb;
  }
  const nics: NicPlacement[] = [];
  for (let k = 0; k < req.nics.length; k++) {
    const i = checker.chosenNets[k]!;
    ctx.networks!.charge(i);
    nics.push({ nicIndex: req.nics[k]!.nicIndex, networkId: ctx.networks!.ids[i]! });
  }
  ctx.groups.record(req.id, h);
  ctx.hostChanged(h);
  req.needCpu = req.cpu;
  req.needMem = req.memKb;
  req.leading = null;
  const hostId = hosts.hosts[h]!.id;
  const action = req.vm.resched === true ? 'migrate' : 'deploy';
  if (numa === undefined) return { vmId: req.id, hostId, datastoreId, action, nics };
  return { vmId: req.id, hostId, datastoreId, action, nics, numa };
}
