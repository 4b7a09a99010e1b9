import type { Logger } from 'pino';
import type {
  AgentMessage,
  FrontEndMessage,
  HostFacts,
  PlanOp,
  PlanSecurityRule,
  PlanSpec,
  WorkloadReport,
} from '../../core/agent-protocol.js';
import { applyHostEvent, HOST_STATE_NAMES, HOST_STATES } from '../../core/host-states.js';
import { MICROVM_RUNTIMES, machineOf } from '../../core/machine-spec.js';
import type { PoolObject, VmBody } from '../../core/model.js';
import { SYSTEM_PRINCIPAL } from '../../core/permissions.js';
import { getString, getVectors } from '../../core/template/index.js';
import type { TemplateVector } from '../../core/template/types.js';
import {
  applyDriverResult,
  applyHostError,
  applyObserved,
  type ObservedVmState,
  type Transition,
} from '../../core/vm-state-machine.js';
import { LCM_STATES, VM_STATES } from '../../core/vm-states.js';
import { type SchedulerConfig, schedule } from '../../scheduler/index.js';
import { type AnyRow, rowToObject, type Store, type TxStore } from '../../store/index.js';
import { endsHotplug, settleInTx } from '../services/hotplug-settle.js';
import { diskImageIds, releaseImages } from '../services/image-usage.js';
import { nicGroupIds } from '../services/secgroup-service.js';
import { applyTransitionEffects, contextOf, opHostOf, phaseOf, type VmService } from '../services/vm-service.js';
import type { AgentEvents, AgentGateway } from './agent-gateway.js';
import { hasAutoNic, withAutoNicNetworks } from './auto-nics.js';
import {
  contextWithNetwork,
  hasNics,
  networkFactsTemplate,
  networkHosts,
  nicRules,
  peersFor,
  planNics,
  vhostUserSchedMessage,
} from './network-plan.js';
import { buildSnapshot, reschedulable } from './placement.js';
import { applyPlan, type ColdMigrateMode } from './plan-applier.js';
import { planDisks } from './plan-disks.js';
import { planOsFiles } from './plan-os-files.js';
import { runtimeFor } from './runtime-choice.js';
import { withSystemDatastores } from './system-ds.js';
import { VmCache } from './vm-cache.js';

export interface LifecycleOptions {
  /** A plan for a host that stays cut off this long fails (the VM moves to its failure state). */
  actionTimeoutMs: number;
  /** Periodic full pass, in case an event was missed. */
  resyncMs: number;
  /** Graceful shutdown before a kill. */
  stopTimeoutMs: number;
  /** Image used for VMs without an image DISK (the built-in busybox root filesystem). */
  defaultImageId(): number | undefined;
  /** Scheduler policies (default: OpenNebula's striping). */
  scheduler?: SchedulerConfig;
  /** How rescheduled running VMs move (default `poweroff`: container runtimes cannot checkpoint). */
  coldMigrateMode?: ColdMigrateMode;
}

interface InFlight {
  planId: string;
  hostId: number;
  sentAt: number;
}

/** The VM phases the scheduler picks up. */
const VM_PENDING = VM_STATES.PENDING;
const VM_ACTIVE = VM_STATES.ACTIVE;
const LCM_RUNNING = LCM_STATES.RUNNING;

/**
 * The reconcile loop that drives every VM through its state machine.
 *
 * Level-based: for each VM it compares what the record asks for (a pending
 * host operation in a transient state) with what is in flight, and sends the
 * host an idempotent plan. Results come back through the gateway, are applied
 * once (per-host sequence numbers), and move the VM on. A plan for a host that
 * is cut off waits for the host to come back — plans are derived from the
 * record, so nothing is lost — and fails clearly after `actionTimeoutMs`.
 * Placement is the pure scheduler's (src/scheduler) over a snapshot of the
 * connected hosts, run once the queue is drained.
 */
export class LifecycleController implements AgentEvents {
  private readonly queue = new Set<number>();
  private readonly inFlight = new Map<number, InFlight>();
  /** Cleanup plans sent (plan id → host), so a reconcile does not resend them. */
  private readonly cleanupsSent = new Map<string, number>();
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private startedAt = 0;
  /** Some VM waits in PENDING: run a scheduling pass once the queue is drained. */
  private pendingDirty = false;
  private loop: Promise<void> = Promise.resolve();
  /** Peer lists last sent per `hostId:networkId`, so a host hears only of changes. */
  private readonly sentPeers = new Map<string, string>();
  private peersDirty = true;
  /** Security groups changed since the last rule push. */
  private readonly changedGroups = new Set<number>();
  /** Live VMs kept parsed between scheduling passes (re-read only when they change). */
  readonly vmCache: VmCache;

  constructor(
    private readonly store: Store,
    private readonly gateway: AgentGateway,
    private readonly vms: VmService,
    private readonly log: Logger,
    private readonly options: LifecycleOptions,
  ) {
    this.vmCache = new VmCache(store);
  }

  start(): void {
    this.startedAt = Date.now();
    this.vmCache.start();
    this.unsubscribe = this.store.objects.onChange((e) => {
      if (e.kind === 'vm' && e.op !== 'delete') this.enqueue(e.id);
      if (e.kind === 'secgroup' && e.op === 'update') {
        this.changedGroups.add(e.id);
        this.wake?.();
      }
    });
    this.timer = setInterval(() => void this.resync(), this.options.resyncMs);
    this.loop = this.run();
    void this.resync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.vmCache.stop();
    if (this.timer) clearInterval(this.timer);
    this.wake?.();
    await this.loop;
  }

  enqueue(vmId: number): void {
    this.queue.add(vmId);
    this.wake?.();
  }

  /** Queues every VM that may need work: pending ones and those in a transient state. */
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;

  /**
   * Single-flight: callers during a pass share it (and one more pass after it),
   * so a burst of agent hellos costs one or two scans, not one each.
   */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        await this.resyncOnce();
      } while (this.resyncAgain);
    })().finally(() => {
      this.resyncing = null;
    });
    return this.resyncing;
  }

  private async resyncOnce(): Promise<void> {
    for (const r of await this.store.objects.listRows('vm', { state: VM_PENDING })) this.enqueue(r.id);
    // The few VMs with work outstanding, through a partial index (vms.needs_work): most of a large
    // fleet is never read.
    const rows = await this.store.objects.listRows('vm', { needsWork: true });
    for (const r of rows) {
      const body = JSON.parse(r.body) as VmBody;
      if ((r.state === VM_ACTIVE && body.pending_op) || (body.cleanup_hosts?.length ?? 0) > 0 || body.resched) {
        this.enqueue(r.id);
      }
    }
  }

  // --- AgentEvents ----------------------------------------------------------------------------

  async connected(hostId: number, facts: HostFacts, workloads: WorkloadReport[]): Promise<void> {
    await this.store.objects.transaction(async (tx) => {
      const host = await tx.mustGet('host', hostId);
      const t = applyHostEvent(HOST_STATE_NAMES[host.state] ?? 'INIT', 'report');
      // Written over the object just read (no deep copy of its facts): a compare-and-set all the same.
      await tx.replace(host, {
        ...host,
        state: t ? HOST_STATES[t.to] : host.state,
        template: { ...host.template, ...factsTemplate(facts) },
        body: { ...host.body, facts, connected: true, last_seen: Date.now() },
      });
    });
    for (const key of this.sentPeers.keys()) if (key.startsWith(`${hostId}:`)) this.sentPeers.delete(key);
    this.peersDirty = true;
    // Plans sent before the link dropped may have been lost: send them again (agents dedupe by planId).
    for (const [vmId, f] of this.inFlight) if (f.hostId === hostId) this.inFlight.delete(vmId);
    for (const [planId, h] of this.cleanupsSent) if (h === hostId) this.cleanupsSent.delete(planId);
    const rows = await this.store.objects.listRows('vm', { hostId });
    for (const id of await this.observeRows(rows, workloads, true)) this.enqueue(id);
    // Only the host's VMs with work outstanding (a plan to send again, a cleanup, a resched):
    // a host of 100 quiet VMs reconnecting costs one indexed read, not 100 reconciles.
    for (const r of rows) if (NEEDS_WORK.test(r.body)) this.enqueue(r.id);
    // Pending VMs may fit on the host now: queue them (an indexed query), which triggers a scheduling
    // pass only if there are any — a hello never scans every VM.
    for (const r of await this.store.objects.listRows('vm', { state: VM_PENDING })) this.enqueue(r.id);
  }

  disconnected(hostId: number): void {
    void this.store.objects
      .update('host', hostId, undefined, (h) => ({
        ...h,
        body: { ...h.body, connected: false, last_seen: Date.now() },
      }))
      .catch((err) => this.log.warn({ err, hostId }, 'could not record host disconnect'));
  }

  async message(
    hostId: number,
    msg: Extract<AgentMessage, { t: 'result' | 'event' }>,
  ): Promise<'applied' | 'replay' | 'refused'> {
    const outcome = await this.store.objects.transaction(async (tx) => {
      const host = await tx.mustGet('host', hostId);
      if (msg.seq <= host.body.last_agent_seq) return 'replay' as const;
      await tx.update('host', hostId, host.revision, (h) => ({
        ...h,
        body: { ...h.body, last_agent_seq: msg.seq, last_seen: Date.now() },
      }));
      const vm = await tx.get('vm', msg.vmId);
      if (vm && msg.t === 'result' && isCleanupPlan(msg.planId)) return this.applyCleanup(tx, vm, hostId, msg);
      // A host reports only about its own VMs (or the one it runs a migration's source step for).
      if (!vm || (vm.body.host_id !== hostId && opHostOf(vm) !== hostId)) {
        this.log.warn({ hostId, vmId: msg.vmId }, 'agent reported about a VM that is not on it; ignored');
        return 'refused' as const;
      }
      if (msg.t === 'event' && opHostOf(vm) !== vm.body.host_id) return 'refused' as const;
      if (msg.t === 'result') return this.applyResult(tx, vm, msg);
      return this.applyEvent(tx, vm, msg.workload);
    });
    if (msg.t === 'result') this.enqueue(msg.vmId);
    return outcome;
  }

  // --- the loop ---------------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopped) {
      const next = this.queue.values().next();
      if (next.done && this.changedGroups.size > 0) {
        const groups = new Set(this.changedGroups);
        this.changedGroups.clear();
        await this.pushRules(groups).catch((err) => this.log.error({ err }, 'security group push failed'));
        continue;
      }
      if (next.done && this.peersDirty) {
        await this.syncPeers().catch((err) => this.log.error({ err }, 'network peer sync failed'));
        continue;
      }
      if (next.done && this.pendingDirty) {
        await this.schedulePass().catch((err) => this.log.error({ err }, 'scheduling pass failed'));
        continue;
      }
      if (next.done) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      this.queue.delete(next.value);
      try {
        await this.reconcile(next.value);
      } catch (err) {
        this.log.error({ err, vmId: next.value }, 'reconcile failed');
      }
    }
  }

  private async reconcile(vmId: number): Promise<void> {
    const vm = await this.store.objects.get('vm', vmId);
    if (!vm) return;
    if (hasNics(vm)) this.peersDirty = true;
    if (vm.state === VM_PENDING) {
      this.pendingDirty = true;
      return;
    }
    if (reschedulable(vm)) this.pendingDirty = true;
    this.sendCleanups(vm);
    const op = vm.body.pending_op as PlanOp | null;
    const hostId = opHostOf(vm);
    if (vm.state !== VM_ACTIVE || !op || hostId === null) {
      this.inFlight.delete(vmId);
      return;
    }
    const planId = planIdOf(vm);
    const flight = this.inFlight.get(vmId);
    if (flight?.planId === planId) return;
    if (!this.gateway.isConnected(hostId)) {
      // Count from this front-end's start too: after a restart, hosts need a moment to dial back in.
      const waited = Date.now() - Math.max(vm.updatedAt, this.startedAt);
      if (waited >= this.options.actionTimeoutMs) {
        await this.fail(
          vm,
          `host ${vm.body.host_name ?? hostId} has not been reachable for ${Math.round(waited / 1000)} s`,
        );
      } else {
        setTimeout(() => this.enqueue(vmId), Math.min(this.options.actionTimeoutMs - waited + 10, 60_000)).unref();
      }
      return;
    }
    const spec = await this.planSpec(vm);
    const msg: FrontEndMessage = { t: 'plan', planId, vmId, op, spec };
    if (this.gateway.send(hostId, msg)) this.inFlight.set(vmId, { planId, hostId, sentAt: Date.now() });
  }

  /** Asks every host a migration left behind to remove the VM's stopped workload and files. */
  private sendCleanups(vm: PoolObject<'vm'>): void {
    for (const hostId of vm.body.cleanup_hosts ?? []) {
      const planId = cleanupPlanId(vm, hostId);
      if (this.cleanupsSent.get(planId) === hostId || !this.gateway.isConnected(hostId)) continue;
      const spec: PlanSpec = {
        name: `one-${vm.id}`,
        runtime: 'crun',
        image: null,
        cpu: 0,
        vcpu: 0,
        memoryMb: 0,
        context: {},
        action: 'cleanup',
        stopTimeoutMs: this.options.stopTimeoutMs,
      };
      if (this.gateway.send(hostId, { t: 'plan', planId, vmId: vm.id, op: 'cleanup', spec })) {
        this.cleanupsSent.set(planId, hostId);
      }
    }
  }

  /** A source host finished its cleanup: forget it (failures are retried on the next pass). */
  private async applyCleanup(
    tx: TxStore,
    vm: PoolObject<'vm'>,
    hostId: number,
    msg: Extract<AgentMessage, { t: 'result' }>,
  ): Promise<'applied' | 'refused'> {
    this.cleanupsSent.delete(msg.planId);
    if (msg.planId !== cleanupPlanId(vm, hostId) || !(vm.body.cleanup_hosts ?? []).includes(hostId)) {
      return 'refused';
    }
    if (!msg.ok) {
      this.log.warn({ vmId: vm.id, hostId, error: msg.error }, 'cleanup after migration failed; will retry');
      return 'refused';
    }
    const left = (vm.body.cleanup_hosts ?? []).filter((h) => h !== hostId);
    await tx.update('vm', vm.id, vm.revision, (o) => {
      const body = { ...o.body };
      if (left.length > 0) body.cleanup_hosts = left;
      else delete body.cleanup_hosts;
      return { ...o, body };
    });
    return 'applied';
  }

  /** Resolves a NIC's security-group rules from the groups and networks as stored now. */
  private async rulesResolver(): Promise<(nic: TemplateVector) => PlanSecurityRule[]> {
    const [groups, vnets] = await Promise.all([this.store.objects.list('secgroup'), this.store.objects.list('vnet')]);
    const byGroup = new Map(groups.map((g) => [g.id, g]));
    const byNet = new Map(vnets.map((n) => [n.id, n]));
    return (nic) => nicRules(nic, byGroup, byNet);
  }

  /**
   * A security group changed: every running VM whose NICs use it gets its
   * NICs' new rules, applied live by its agent (no restart).
   */
  private async pushRules(groupIds: Set<number>): Promise<void> {
    const resolve = await this.rulesResolver();
    for (const vm of await this.vmCache.list()) {
      if (vm.state !== VM_ACTIVE) continue;
      const hostId = vm.body.host_id;
      if (hostId === null || !this.gateway.isConnected(hostId)) continue;
      const nics = getVectors(vm.template, 'NIC').filter((n) => n.MAC !== undefined && n.NETWORK_ID !== undefined);
      if (!nics.some((n) => nicGroupIds(n).some((g) => groupIds.has(g)))) continue;
      const msg: FrontEndMessage = {
        t: 'nic-rules',
        vmId: vm.id,
        nics: nics.map((n) => ({ nicId: Number(n.NIC_ID ?? '0'), rules: resolve(n) })),
      };
      this.gateway.send(hostId, msg);
    }
  }

  /**
   * Keeps every host's VXLAN head-end replication list current: for each
   * network, the addresses of the other hosts that carry it. Sent only when a
   * host's list changed (a host joined or left the network, or moved).
   */
  private async syncPeers(): Promise<void> {
    this.peersDirty = false;
    // Only VXLAN networks have peers; without one, a hello must not cost a read of every VM.
    const vnets = await this.store.objects.list('vnet');
    if (!vnets.some((n) => n.body.vn_mad === 'vxlan')) return;
    const [hosts, vms] = await Promise.all([this.store.objects.list('host'), this.vmCache.list()]);
    const nets = networkHosts(vms, hosts);
    for (const [networkId, members] of nets) {
      for (const hostId of members.keys()) {
        const peers = peersFor(members, hostId);
        const key = `${hostId}:${networkId}`;
        const text = peers.join(',');
        if (this.sentPeers.get(key) === text || !this.gateway.isConnected(hostId)) continue;
        if (this.gateway.send(hostId, { t: 'net-peers', networkId, peers })) this.sentPeers.set(key, text);
      }
    }
    // Hosts that left a network entirely: nothing to send (their last NIC's teardown removed it).
    for (const key of [...this.sentPeers.keys()]) {
      const [h, n] = key.split(':').map(Number);
      if (!nets.get(n as number)?.has(h as number)) this.sentPeers.delete(key);
    }
  }

  /**
   * One scheduling cycle: every PENDING VM against every connected host, by
   * the pure scheduler (requirements, rank, capacity, runtimes …); placements
   * become `deploy` actions, the rest get their SCHED_MESSAGE.
   */
  private async schedulePass(): Promise<void> {
    this.pendingDirty = false;
    const [hosts, vms, groups, images, systemDs] = await Promise.all([
      this.store.objects.list('host'),
      this.vmCache.list(),
      this.store.objects.list('vmgroup'),
      this.store.objects.list('image'),
      this.store.objects.get('datastore', 0),
    ]);
    const byHost = new Map(hosts.map((h) => [h.id, h.body.facts]));
    let snapshot = withSystemDatastores(
      buildSnapshot(hosts, vms, (id) => this.gateway.isConnected(id), groups),
      vms,
      images,
      systemDs,
      (id) => byHost.get(id),
    );
    // Parked VMs with persistent disks cannot be moved (their data is on the host; vm-service
    // refuses the migrate): leave them out of rescheduling and say why.
    const persistent = new Set(images.filter((i) => i.body.persistent).map((i) => i.id));
    const byVm = new Map(vms.map((v) => [v.id, v]));
    const parked = snapshot.vms.filter((p) => {
      const v = byVm.get(p.id);
      return p.resched && v?.state === VM_STATES.POWEROFF && diskImageIds(v.template).some((id) => persistent.has(id));
    });
    if (parked.length > 0) {
      snapshot = { ...snapshot, vms: snapshot.vms.filter((p) => !parked.includes(p)) };
      for (const p of parked) {
        const v = byVm.get(p.id) as PoolObject<'vm'>;
        await this.setSchedMessage(v, 'not rescheduled while powered off: it has persistent disks on its host');
      }
    }
    if (snapshot.vms.length === 0) return;
    if (snapshot.vms.some((v) => hasAutoNic(v.template))) {
      const [vnets, users] = await Promise.all([this.store.objects.list('vnet'), this.store.objects.list('user')]);
      snapshot = withAutoNicNetworks(snapshot, vnets, users);
    }
    const plan = schedule(snapshot, this.options.scheduler ?? {});
    const { applied, conflicts } = await applyPlan(
      this.store,
      this.vms,
      SYSTEM_PRINCIPAL,
      plan,
      byVm,
      this.options.coldMigrateMode ?? 'poweroff',
    );
    if (conflicts.length > 0) {
      this.log.debug({ conflicts: conflicts.length, applied: applied.length }, 'placements re-queued');
      for (const id of conflicts) this.enqueue(id);
    }
    for (const u of plan.unplaced) {
      const vm = byVm.get(u.vmId);
      if (vm)
        await this.setSchedMessage(
          vm,
          vhostUserSchedMessage(vm, hosts, (id) => this.gateway.isConnected(id), u.message),
        );
    }
  }

  private async setSchedMessage(vm: PoolObject<'vm'>, message: string): Promise<void> {
    if (vm.body.sched_message === message) return;
    await this.store.objects.update('vm', vm.id, vm.revision, (o) => ({
      ...o,
      body: { ...o.body, sched_message: message },
    }));
  }

  private async applyResult(
    tx: TxStore,
    vm: PoolObject<'vm'>,
    msg: Extract<AgentMessage, { t: 'result' }>,
  ): Promise<'applied' | 'refused'> {
    this.inFlight.delete(vm.id);
    if (msg.planId !== planIdOf(vm)) {
      this.log.debug({ vmId: vm.id, planId: msg.planId }, 'result for an earlier plan; ignored');
      return 'refused';
    }
    const t = applyDriverResult(phaseOf(vm), msg.ok ? 'success' : 'failure', contextOf(vm));
    if (!t) return 'refused';
    const error = msg.ok ? null : `${msg.error?.code ?? 'E_DRIVER_FAILED'}: ${msg.error?.message ?? 'failed'}`;
    await this.commit(tx, vm, t, { error: error ?? vm.body.error });
    return 'applied';
  }

  private async applyEvent(tx: TxStore, vm: PoolObject<'vm'>, w: WorkloadReport): Promise<'applied' | 'refused'> {
    const observed = observedOf(w);
    if (!observed) return 'refused';
    const t = applyObserved(phaseOf(vm), observed, contextOf(vm));
    if (!t) return 'refused';
    await this.commit(tx, vm, t, {});
    return 'applied';
  }

  /**
   * Monitor-observed workload states of a host's VMs (reference §5.4). With
   * `full`, a VM placed on the host but absent from the list is seen MISSING
   * (POWEROFF). Reports about VMs not placed on this host are ignored; VMs with
   * a host operation in flight are left to its result. Returns the VM ids applied.
   */
  async observeWorkloads(
    hostId: number,
    workloads: WorkloadReport[],
    full: boolean,
    /** VMs the agent still counts misses for: not absent, not a change either. */
    counting: ReadonlySet<number> = new Set(),
  ): Promise<number[]> {
    return this.observeRows(await this.store.objects.listRows('vm', { hostId }), workloads, full, counting);
  }

  /** observeWorkloads over rows already read (the VMs placed on the reporting host). */
  private async observeRows(
    rows: readonly AnyRow[],
    workloads: WorkloadReport[],
    full: boolean,
    counting: ReadonlySet<number> = new Set(),
  ): Promise<number[]> {
    const byVm = new Map(workloads.map((w) => [w.vmId, w]));
    const applied: number[] = [];
    for (const r of rows) {
      if (counting.has(r.id)) continue;
      const w = byVm.get(r.id) ?? (full ? { vmId: r.id, state: 'missing' as const } : undefined);
      // A running VM reported running is the common case: decided on the stored columns, no parse.
      if (!w || (w.state === 'running' && r.state === VM_ACTIVE && r.lcm_state === LCM_RUNNING)) continue;
      if (PENDING_OP.test(r.body)) continue;
      const vm = rowToObject('vm', r);
      // Most reports change nothing: only open a transaction for a real transition.
      const observed = observedOf(w);
      if (!observed || !applyObserved(phaseOf(vm), observed, contextOf(vm))) continue;
      await this.store.objects.transaction(async (tx) => {
        const current = await tx.get('vm', vm.id);
        if (current && current.revision === vm.revision && (await this.applyEvent(tx, current, w)) === 'applied')
          applied.push(vm.id);
      });
    }
    return applied;
  }

  /** The host went ERROR (reference §1.3): its RUNNING VMs become UNKNOWN. Returns their ids. */
  async hostFailed(hostId: number): Promise<number[]> {
    const changed: number[] = [];
    for (const vm of await this.store.objects.list('vm', { hostId })) {
      await this.store.objects.transaction(async (tx) => {
        const current = await tx.get('vm', vm.id);
        if (!current || current.body.host_id !== hostId) return;
        const t = applyHostError(phaseOf(current), contextOf(current));
        if (!t) return;
        await this.commit(tx, current, t, {});
        changed.push(vm.id);
      });
    }
    return changed;
  }

  private async fail(vm: PoolObject<'vm'>, message: string): Promise<void> {
    await this.store.objects.transaction(async (tx) => {
      const current = await tx.get('vm', vm.id);
      if (!current || current.revision !== vm.revision) return;
      const t = applyDriverResult(phaseOf(current), 'failure', contextOf(current));
      if (t) await this.commit(tx, current, t, { error: `E_HOST_UNREACHABLE: ${message}` });
    });
    this.inFlight.delete(vm.id);
    this.log.warn({ vmId: vm.id, reason: message }, 'host operation failed');
  }

  private async commit(tx: TxStore, vm: PoolObject<'vm'>, t: Transition, patch: Partial<VmBody>): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const body: VmBody = {
      ...vm.body,
      ...patch,
      pending_op: t.op ?? null,
      last_action: t.context.lastAction ?? null,
    };
    applyTransitionEffects(body, t, now);
    let template = vm.template;
    if (endsHotplug(vm, t)) {
      template = await settleInTx(tx, this.vms.nets, vm, t.cause.kind === 'driver' && t.cause.result === 'success');
      body.hotplug = null;
    }
    if (t.to.state === 'DONE') await this.vms.nets?.releaseVm(tx, vm.id);
    if (t.to.state === 'DONE') await releaseImages(tx, vm.id, template);
    await tx.update('vm', vm.id, vm.revision, (o) => ({
      ...o,
      template,
      state: VM_STATES[t.to.state],
      lcmState: LCM_STATES[t.to.lcm],
      body,
    }));
  }

  private async planSpec(vm: PoolObject<'vm'>): Promise<PlanSpec> {
    const t = vm.template;
    const host = vm.body.host_id === null ? undefined : await this.store.objects.get('host', vm.body.host_id);
    const runtime = runtimeFor(t, host?.body.facts?.runtimes ?? []);
    const context = contextWithNetwork(vm);
    // Peer lists need every VM; only VMs with VXLAN NICs pay for reading them.
    const overlay = getVectors(t, 'NIC').some((n) => n.VN_MAD === 'vxlan');
    const nets = overlay
      ? networkHosts(await this.vmCache.list(), await this.store.objects.list('host'))
      : new Map<number, Map<number, string>>();
    const rules = hasNics(vm) ? await this.rulesResolver() : undefined;
    const nics = planNics(vm, (networkId) => peersFor(nets.get(networkId), vm.body.host_id ?? -1), rules);
    const disks = await planDisks(this.store, t);
    // The root filesystem: the first rootfs-tarball disk, else the built-in base image — except for a
    // microVM that boots an OS disk image (raw/qcow2), which needs no root filesystem tarball.
    const rootDisk = disks.find((d) => d.format === 'rootfs-tar' && d.imageId !== null);
    const microvm = MICROVM_RUNTIMES.has(runtime);
    const diskRoot =
      microvm &&
      disks.some((d) => d.type === 'OS' && d.imageId !== null && (d.format === 'raw' || d.format === 'qcow2'));
    const imageId = rootDisk?.imageId ?? (diskRoot ? undefined : this.options.defaultImageId());
    const image = imageId == null ? undefined : await this.store.objects.get('image', imageId);
    // COMMAND makes the workload an application: when it exits, the VM powers off (a guest shutdown).
    const command = getString(t, 'COMMAND');
    return {
      name: `one-${vm.id}`,
      runtime,
      image: image
        ? { id: image.id, sha256: image.body.sha256 ?? '', sizeBytes: image.body.size_mb * 1024 * 1024 }
        : null,
      cpu: Number(getString(t, 'CPU') ?? '1'),
      vcpu: Number(getString(t, 'VCPU') ?? '1'),
      memoryMb: Number(getString(t, 'MEMORY') ?? '64'),
      ...(command ? { command: ['/bin/sh', '-c', command] } : {}),
      ...pinning(vm),
      context,
      action: vm.body.last_action,
      stopTimeoutMs: this.options.stopTimeoutMs,
      ...(nics.length > 0 ? { nics } : {}),
      ...(disks.length > 0 ? { disks } : {}),
      ...(microvm ? { machine: { ...machineOf(t), ...(await planOsFiles(this.store, t)) } } : {}),
      ...(vm.body.hotplug ? { hotplug: hotplugRef(vm.body.hotplug) } : {}),
    };
  }
}

/** Stored VM bodies (compact JSON) that may need the controller: a pending op, hosts to clean, resched. */
const NEEDS_WORK = /"pending_op":"|"cleanup_hosts":\[\d|"resched":true/;
/** A host operation is in flight: its result, not a monitor report, moves the VM. */
const PENDING_OP = /"pending_op":"/;

/** Cleanups of a migration's source host have their own plan ids, outside the state machine. */
function cleanupPlanId(vm: PoolObject<'vm'>, hostId: number): string {
  return `${vm.id}:cleanup:${hostId}:${vm.body.history.length}`;
}

function isCleanupPlan(planId: string): boolean {
  return planId.includes(':cleanup:');
}

/** Identifies one host operation of one VM: a new transition (or update) means a new plan. */
export function planIdOf(vm: PoolObject<'vm'>): string {
  return `${vm.id}:${vm.body.history.length}:${vm.lcmState}:${vm.revision}`;
}

/** Which NIC_ID or DISK_ID a hot-plug op is about. */
function hotplugRef(hp: NonNullable<VmBody['hotplug']>): NonNullable<PlanSpec['hotplug']> {
  return hp.kind.startsWith('nic') ? { nicId: hp.id } : { diskId: hp.id };
}

/** The CPU set and memory nodes of a pinned VM, from its NUMA placement. */
function pinning(vm: PoolObject<'vm'>): Pick<PlanSpec, 'cpuSet' | 'memoryNodes' | 'hugepages'> {
  const nodes = vm.body.numa?.nodes ?? [];
  if (nodes.length === 0) return {};
  const pages = new Map<number, number>();
  for (const n of nodes) {
    if (n.hugepages) pages.set(n.hugepages.size_kb, (pages.get(n.hugepages.size_kb) ?? 0) + n.hugepages.pages);
  }
  return {
    cpuSet: [...new Set(nodes.flatMap((n) => n.cpus))].sort((a, b) => a - b),
    memoryNodes: [...new Set(nodes.map((n) => n.memory_node_id))].sort((a, b) => a - b),
    ...(pages.size > 0 ? { hugepages: [...pages].map(([sizeKb, count]) => ({ sizeKb, pages: count })) } : {}),
  };
}

function observedOf(w: WorkloadReport): ObservedVmState | undefined {
  switch (w.state) {
    case 'running':
      return 'RUNNING';
    case 'paused':
      return 'SUSPENDED';
    case 'stopped':
    case 'created':
      return 'POWEROFF';
    case 'missing':
      return 'MISSING';
    default:
      return undefined;
  }
}

function factsTemplate(f: HostFacts): Record<string, string> {
  return {
    HOSTNAME: f.hostname,
    ARCH: f.arch,
    TOTALCPU: String(f.cpus * 100),
    TOTALMEMORY: String(f.memoryMb * 1024),
    RUNTIMES: f.runtimes.join(','),
    AGENT_VERSION: f.agentVersion,
    ...networkFactsTemplate(f.networkDrivers, f.vhostUser),
  };
}
