import type { HostFacts } from '../../core/agent-protocol.js';
import { isOneError } from '../../core/errors.js';
import type { PoolObject, VmNumaPlacement } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { getString } from '../../core/template/index.js';
import { VM_STATES } from '../../core/vm-states.js';
import type { NumaNodePlacement, SchedulerPlan } from '../../scheduler/index.js';
import { maxCapacity } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { VmService } from '../services/vm-service.js';
import { allocation, HOLDS_CAPACITY, reschedulable } from './placement.js';

/**
 * How a rescheduled running VM moves (OpenNebula's COLD_MIGRATE_MODE): `save` checkpoints and
 * restores it (runtimes that can), `poweroff` shuts it down and boots it on the target,
 * `poweroff-hard` kills it first. Parked (POWEROFF, UNKNOWN) VMs just move.
 */
export type ColdMigrateMode = 'save' | 'poweroff' | 'poweroff-hard';

const MIGRATE_ACTION = {
  save: 'migrate',
  poweroff: 'migrate-poweroff',
  'poweroff-hard': 'migrate-poweroff-hard',
} as const satisfies Record<ColdMigrateMode, string>;

/** Placements' VMs are read this many per query. */
const BATCH = 500;

export interface ApplyResult {
  applied: number[];
  /** VMs whose placement no longer held (changed VM, host full meanwhile, lost race): schedule again. */
  conflicts: number[];
}

/**
 * Commits a scheduler plan in one transaction. Every placement is re-checked
 * against the database, not the snapshot the plan came from: the VM must still
 * be PENDING at the revision the scheduler saw, and the host must still have
 * room for it counting every VM placed on it so far. `known` holds the VM
 * objects the snapshot was built from: a plain deploy writes over that object
 * with a compare-and-set on its revision (a VM changed since is a conflict),
 * so the plan's VMs are not read and parsed a second time; placements that
 * write more than the VM row (auto NIC leases) or move a VM re-read it first. Each touched host's
 * revision is bumped (compare-and-set), so two front-ends applying plans for
 * the same host at once cannot both succeed: the loser's transaction fails and
 * its VMs come back as conflicts to be scheduled again. A plan therefore never
 * over-commits a host, whoever races it.
 */
export async function applyPlan(
  store: Store,
  vms: VmService,
  who: Principal,
  plan: SchedulerPlan,
  known: ReadonlyMap<number, PoolObject<'vm'>>,
  coldMigrateMode: ColdMigrateMode = 'poweroff',
): Promise<ApplyResult> {
  const wanted = plan.placements.map((p) => p.vmId);
  try {
    return await store.objects.transaction(async (tx) => {
      const applied: number[] = [];
      const conflicts: number[] = [];
      const used = new Map<number, HostUse>();
      const hosts = new Map<number, PoolObject<'host'> | undefined>();
      // Placements that write more than their VM's row are re-read (in batches) before anything is written.
      const reread = plan.placements.filter((p) => p.action === 'migrate' || p.nics.length > 0).map((p) => p.vmId);
      const current = new Map<number, PoolObject<'vm'>>();
      for (let i = 0; i < reread.length; i += BATCH) {
        const ids = reread.slice(i, i + BATCH);
        for (const vm of await tx.list('vm', { ids, includeDone: true })) current.set(vm.id, vm);
      }
      // Every host the plan names: its revision bumped (compare-and-set; in id order, so two appliers
      // lock hosts in the same order), then what its VMs hold, read after the bump so a concurrent
      // applier's committed placements are counted.
      const hostIds = [...new Set(plan.placements.map((p) => p.hostId))].sort((a, b) => a - b);
      for (let i = 0; i < hostIds.length; i += BATCH) {
        const ids = hostIds.slice(i, i + BATCH);
        const found = new Map((await tx.list('host', { ids })).map((h) => [h.id, h]));
        const live: number[] = [];
        for (const id of ids) {
          const h = found.get(id);
          hosts.set(id, h?.body.facts ? await tx.replace(h, { ...h }) : undefined);
          if (h?.body.facts) live.push(id);
        }
        const held = await tx.hostAllocations(live, [...HOLDS_CAPACITY]);
        for (const id of live) used.set(id, hostUse(held.get(id)));
      }
      for (const p of plan.placements) {
        const seen = known.get(p.vmId);
        const vm = p.action === 'migrate' || p.nics.length > 0 ? current.get(p.vmId) : seen;
        const movable =
          p.action === 'migrate' ? vm !== undefined && reschedulable(vm) : vm?.state === VM_STATES.PENDING;
        if (!vm || !movable || vm.revision !== seen?.revision) {
          conflicts.push(p.vmId);
          continue;
        }
        const host = hosts.get(p.hostId);
        if (!host) {
          conflicts.push(p.vmId);
          continue;
        }
        const u = used.get(host.id) as HostUse;
        const d = allocation(vm);
        if (!fits(host, u, d) || (p.numa && !numaFits(host, u, p.numa.nodes))) {
          conflicts.push(p.vmId);
          continue;
        }
        let placed = vm;
        if (p.nics.length > 0) {
          try {
            placed = await vms.leaseAutoNics(tx, vm, p.nics);
          } catch (err) {
            // The network filled up (or its rights changed) since the snapshot: schedule again.
            if (!isOneError(err) || err.code === 'E_REVISION_MISMATCH') throw err;
            conflicts.push(p.vmId);
            continue;
          }
        }
        const action = p.action === 'migrate' ? MIGRATE_ACTION[coldMigrateMode] : 'deploy';
        const numa: VmNumaPlacement | undefined = p.numa && {
          pin_policy: p.numa.pinPolicy,
          nodes: p.numa.nodes.map((n) => ({
            node_id: n.nodeId,
            cpus: [...n.cpus],
            memory_node_id: n.memoryNodeId,
            memory_kb: n.memoryKb,
            ...(n.hugepages ? { hugepages: { size_kb: n.hugepages.sizeKb, pages: n.hugepages.pages } } : {}),
          })),
        };
        try {
          await vms.applyInTx(tx, who, placed, action, {
            hostId: host.id,
            host,
            dsId: Math.max(0, p.datastoreId),
            ...(numa ? { numa } : {}),
          });
        } catch (err) {
          // The VM changed since the snapshot (its compare-and-set wrote nothing): schedule it again.
          if (!isOneError(err) || err.code !== 'E_REVISION_MISMATCH' || placed !== seen) throw err;
          conflicts.push(p.vmId);
          continue;
        }
        u.cpu += d.cpu;
        u.memKb += d.memKb;
        if (p.numa) chargeNuma(u, p.numa.nodes);
        applied.push(p.vmId);
      }
      return { applied, conflicts };
    });
  } catch (err) {
    // A lost race (stale revision, busy snapshot): nothing was committed; everything goes back.
    if (isOneError(err) && err.code !== 'E_REVISION_MISMATCH') throw err;
    return { applied: [], conflicts: wanted };
  }
}

/** What the VMs on a host hold, from the database: CPU and memory, pinned threads, hugepages per node. */
interface HostUse {
  cpu: number;
  memKb: number;
  /** Host CPU → how many VMs are pinned to it. */
  pinned: Map<number, number>;
  /** "node:sizeKb" → pages reserved. */
  pages: Map<string, number>;
}

function hostUse(held: { cpu: number; memKb: number; numa: VmNumaPlacement[] } | undefined): HostUse {
  const u: HostUse = { cpu: held?.cpu ?? 0, memKb: held?.memKb ?? 0, pinned: new Map(), pages: new Map() };
  for (const numa of held?.numa ?? []) {
    chargeNuma(
      u,
      numa.nodes.map((n) => ({
        cpus: n.cpus,
        memoryNodeId: n.memory_node_id,
        ...(n.hugepages ? { hugepages: { sizeKb: n.hugepages.size_kb, pages: n.hugepages.pages } } : {}),
      })),
    );
  }
  return u;
}

type NumaCharge = Pick<NumaNodePlacement, 'cpus' | 'memoryNodeId' | 'hugepages'>;

function chargeNuma(u: HostUse, nodes: readonly NumaCharge[]): void {
  for (const n of nodes) {
    for (const c of n.cpus) u.pinned.set(c, (u.pinned.get(c) ?? 0) + 1);
    if (n.hugepages) {
      const key = `${n.memoryNodeId}:${n.hugepages.sizeKb}`;
      u.pages.set(key, (u.pages.get(key) ?? 0) + n.hugepages.pages);
    }
  }
}

/**
 * A pinned placement still holds when none of its threads is already taken by
 * VMS_THREAD VMs and its node still has the hugepages (a front-end may have
 * pinned the same threads since this plan's snapshot was taken).
 */
function numaFits(host: PoolObject<'host'>, u: HostUse, nodes: readonly NumaCharge[]): boolean {
  const vmsThread = Number(getString(host.template, 'VMS_THREAD') ?? '1') || 1;
  const facts = host.body.facts as HostFacts;
  for (const n of nodes) {
    if (n.cpus.some((c) => (u.pinned.get(c) ?? 0) >= vmsThread)) return false;
    if (n.hugepages) {
      const size = n.hugepages.sizeKb;
      const total =
        facts.numa?.find((f) => f.id === n.memoryNodeId)?.hugepages.find((h) => h.sizeKb === size)?.total ?? 0;
      const taken = u.pages.get(`${n.memoryNodeId}:${size}`) ?? 0;
      if (taken + n.hugepages.pages > total) return false;
    }
  }
  return true;
}

function fits(host: PoolObject<'host'>, used: HostUse, d: { cpu: number; memKb: number }): boolean {
  const facts = host.body.facts as HostFacts;
  const maxCpu = maxCapacity(facts.cpus * 100, getString(host.template, 'RESERVED_CPU'));
  const maxMem = maxCapacity(facts.memoryMb * 1024, getString(host.template, 'RESERVED_MEM'));
  return maxCpu - used.cpu >= d.cpu && maxMem - used.memKb >= d.memKb;
}
