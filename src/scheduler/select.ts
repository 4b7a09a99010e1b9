import type { SchedulerContext } from './context.js';
import type { HostChecker } from './filters.js';
import { OK } from './reasons.js';
import type { VmRequest } from './vm-request.js';

/**
 * Finds the best host for a VM, or -1 (then `ctx.counts` holds how many hosts
 * each filter rejected). On success the checker's scratch describes the
 * chosen host (datastore, networks).
 */
export function selectHost(ctx: SchedulerContext, checker: HostChecker, req: VmRequest): number {
  ctx.counts.fill(0);
  checker.resetFailures();
  if (ctx.indexed && req.ranks.length === 1) {
    const ordering = ctx.ordering(req.rankTexts[0]!, req.ranks[0]!, req.clusterKey, req.clusterMask, req.pinned);
    if (ordering !== null) return walk(ctx, checker, req, ordering.order);
  }
  return scan(ctx, checker, req);
}

/**
 * The indexed path: the hosts in the VM's scope in rank order; the first that
 * passes every filter is the best. When none does, every host is checked
 * again to count the rejections exactly as the scan would (hosts outside the
 * scope fail the cluster or pinning filter, or an earlier one).
 */
function walk(ctx: SchedulerContext, checker: HostChecker, req: VmRequest, order: Int32Array): number {
  for (let i = 0; i < order.length; i++) {
    const h = order[i]!;
    if (checker.check(req, h) === OK) return h;
  }
  const counts = ctx.counts;
  for (let h = 0; h < ctx.hosts.n; h++) counts[checker.check(req, h)]!++;
  return -1;
}

/**
 * The straightforward algorithm (OpenNebula's): filter every host, score the
 * candidates with each policy, divide each policy's scores by its largest
 * |score| among the candidates, sum, and take the highest (lowest id on ties).
 */
export function scan(ctx: SchedulerContext, checker: HostChecker, req: VmRequest): number {
  const counts = ctx.counts;
  const candidates: number[] = [];
  for (let h = 0; h < ctx.hosts.n; h++) {
    const code = checker.check(req, h);
    if (code === OK) candidates.push(h);
    else counts[code]!++;
  }
  if (candidates.length === 0) return -1;
  const total = new Float64Array(candidates.length);
  const raw = new Float64Array(candidates.length);
  for (const rank of req.ranks) {
    let max = 0;
    for (let i = 0; i < candidates.length; i++) {
      raw[i] = rank.score(candidates[i]!);
      max = Math.max(max, Math.abs(raw[i]!));
    }
    if (max !== 0) for (let i = 0; i < candidates.length; i++) total[i]! += raw[i]! / max;
  }
  let best = 0;
  for (let i = 1; i < candidates.length; i++) if (total[i]! > total[best]!) best = i;
  const h = candidates[best]!;
  checker.check(req, h);
  return h;
}
