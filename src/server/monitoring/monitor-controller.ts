import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { WorkloadReport } from '../../core/agent-protocol.js';
import { applyHostEvent, HOST_STATE_NAMES, HOST_STATES, type HostState } from '../../core/host-states.js';
import type { HostBody, PoolObject } from '../../core/model.js';
import {
  checkMonitorRecords,
  type DatastoreUsage,
  type HostSystemInfo,
  type HostUsage,
  type MonitorKind,
  type MonitorRecord,
  type VmUsage,
} from '../../core/monitoring.js';
import type { Store } from '../../store/index.js';
import type { HostMonitoringTable, VmMonitoringTable } from '../../store/schema.js';
import type { MonitorSink } from '../agents/agent-gateway.js';
import type { LifecycleController } from '../agents/lifecycle-controller.js';
import { networkFactsTemplate } from '../agents/network-plan.js';
import type { MonitoringConfig } from '../config.js';

const gunzipAsync = promisify(gunzip);
/** A monitor frame may not inflate beyond this (100 VMs of usage is ~15 KB). */
const MAX_INFLATED = 8 * 1024 * 1024;
/** Hosts read per query when a tick writes their monitoring into their records. */
const HOST_BATCH = 500;

interface HostTrack {
  state: HostState;
  /** ms of the last frame or hello from its agent; 0 = none since this front-end started. */
  lastReport: number;
  beaconMs: number;
  /** Newest accepted stamp per kind: older-or-equal records are dropped. */
  latest: Partial<Record<MonitorKind, number>>;
  /** When it went ERROR (for the failure hook). */
  errorSince: number;
  /** Host-state event waiting for the next tick. */
  report: boolean;
  /** Body fields waiting for the next tick. */
  patch: Partial<Pick<HostBody, 'monitoring' | 'wilds' | 'zombies' | 'facts'>> | null;
  usage: HostUsage | null;
  datastore: DatastoreUsage | null;
  /** VM-state work is applied one record at a time per host. */
  chain: Promise<void>;
}

/** Counters for /metrics. */
export interface MonitorStats {
  frames: number;
  bytes: number;
  records: number;
  stale: number;
  malformed: number;
  refused: number;
  rowsWritten: number;
  flushes: number;
  flushMsTotal: number;
  /** Ingest lag: agent stamp → row committed, over the last tick and the maximum seen. */
  lastLagMs: number;
  maxLagMs: number;
  lagMsTotal: number;
  lagSamples: number;
  hostErrors: number;
}

/**
 * The monitor controller (OpenNebula's onemonitord in the front-end): takes
 * agents' pushed records, drops stale ones, keeps current values in memory,
 * writes the time series once per tick in one transaction, folds current
 * usage into host bodies, moves hosts to MONITORED/ERROR and applies VM state
 * sync (reference §5). Retention runs every minute.
 */
export class MonitorController implements MonitorSink {
  private readonly hosts = new Map<number, HostTrack>();
  /** vmId → host it is placed on, as last read; dropped on any VM change. */
  private readonly vmHost = new Map<number, number | null>();
  /** vmId → latest usage sample, for `vm show`. */
  private readonly vmCurrent = new Map<number, VmUsage & { ts: number; hostId: number }>();
  private hostRows: HostMonitoringTable[] = [];
  private vmRows: VmMonitoringTable[] = [];
  private timer: NodeJS.Timeout | null = null;
  private expireTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now();
  private pendingDecodes = 0;
  readonly stats: MonitorStats = {
    frames: 0,
    bytes: 0,
    records: 0,
    stale: 0,
    malformed: 0,
    refused: 0,
    rowsWritten: 0,
    flushes: 0,
    flushMsTotal: 0,
    lastLagMs: 0,
    maxLagMs: 0,
    lagMsTotal: 0,
    lagSamples: 0,
    hostErrors: 0,
  };
  /** Called when a host goes ERROR (the failure hook). */
  onHostError: ((hostId: number) => void) | null = null;
  /** Called after VM usage samples were committed (the per-VM monitoring event): the newest per VM. */
  onVmSamples: ((samples: VmSampleNote[]) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly lifecycle: LifecycleController,
    private readonly log: Logger,
    private readonly config: MonitoringConfig,
  ) {}

  async start(): Promise<void> {
    for (const h of await this.store.objects.list('host')) this.track(h.id, HOST_STATE_NAMES[h.state] ?? 'INIT');
    this.unsubscribe = this.store.objects.onChange((e) => {
      if (e.kind === 'vm') {
        this.vmHost.delete(e.id);
        if (e.op === 'delete') this.vmCurrent.delete(e.id);
      } else if (e.kind === 'host') {
        if (e.op === 'delete') this.hosts.delete(e.id);
        else {
          const t = this.track(e.id, HOST_STATE_NAMES[e.state] ?? 'INIT');
          t.state = HOST_STATE_NAMES[e.state] ?? t.state;
        }
      }
    });
    const loop = () => {
      const started = Date.now();
      this.ticking = this.tick()
        .catch((err) => this.log.error({ err }, 'monitor tick failed'))
        .finally(() => {
          // Ticks start every flushMs: a long tick (10,000 hosts write ~17,000 rows a tick) does not push
          // the next one back by its own length, which every record's lag would pay.
          const wait = Math.max(10, this.config.flushMs - (Date.now() - started));
          if (this.unsubscribe) this.timer = setTimeout(loop, wait);
        });
    };
    this.timer = setTimeout(loop, this.config.flushMs);
    this.expireTimer = setInterval(() => void this.expire(), 60_000);
    this.expireTimer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.expireTimer) clearInterval(this.expireTimer);
    await this.ticking;
  }

  // --- MonitorSink ------------------------------------------------------------------------------

  seen(hostId: number): void {
    const t = this.track(hostId);
    t.lastReport = Date.now();
  }

  ingest(hostId: number, z: string): void {
    this.stats.frames++;
    this.stats.bytes += z.length;
    this.pendingDecodes++;
    gunzipAsync(Buffer.from(z, 'base64'), { maxOutputLength: MAX_INFLATED })
      .then((raw) => this.accept(hostId, JSON.parse(raw.toString('utf8')) as unknown))
      .catch((err) => {
        this.stats.malformed++;
        this.log.warn({ hostId, err: String(err) }, 'undecodable monitor frame dropped');
      })
      .finally(() => this.pendingDecodes--);
  }

  // --- reads --------------------------------------------------------------------------------------

  /** The newest usage of a VM seen by this front-end (not persisted in the VM body). */
  vmUsage(vmId: number): (VmUsage & { ts: number; hostId: number }) | undefined {
    return this.vmCurrent.get(vmId);
  }

  /** Hosts by state and monitoring freshness, for /metrics. */
  hostTracks(): { id: number; state: HostState; lastReport: number }[] {
    return [...this.hosts.entries()].map(([id, t]) => ({ id, state: t.state, lastReport: t.lastReport }));
  }

  /** Sums of the latest host usage over hosts that are not ERROR/OFFLINE. */
  fleetUsage(): { totalCpu: number; usedCpu: number; totalMemoryKb: number; usedMemoryKb: number } {
    const sum = { totalCpu: 0, usedCpu: 0, totalMemoryKb: 0, usedMemoryKb: 0 };
    for (const t of this.hosts.values()) {
      if (!t.usage || t.state === 'ERROR' || t.state === 'OFFLINE') continue;
      sum.totalCpu += t.usage.totalCpu;
      sum.usedCpu += t.usage.usedCpu;
      sum.totalMemoryKb += t.usage.totalMemoryKb;
      sum.usedMemoryKb += t.usage.usedMemoryKb;
    }
    return sum;
  }

  backlog(): number {
    return this.hostRows.length + this.vmRows.length + this.pendingDecodes;
  }

  // --- ingest -------------------------------------------------------------------------------------

  private track(hostId: number, state?: HostState): HostTrack {
    let t = this.hosts.get(hostId);
    if (!t) {
      t = {
        state: state ?? 'INIT',
        lastReport: 0,
        beaconMs: this.config.beaconSeconds * 1000,
        latest: {},
        errorSince: 0,
        report: false,
        patch: null,
        usage: null,
        datastore: null,
        chain: Promise.resolve(),
      };
      this.hosts.set(hostId, t);
    }
    return t;
  }

  private async accept(hostId: number, payload: unknown): Promise<void> {
    const { records, problems } = checkMonitorRecords(payload);
    if (problems.length > 0) {
      this.stats.malformed += problems.length;
      this.log.warn({ hostId, problems: problems.slice(0, 3) }, 'malformed monitor records dropped');
    }
    const t = this.hosts.get(hostId);
    if (!t) return; // deleted meanwhile
    t.lastReport = Date.now();
    if (t.state === 'ERROR' || t.state === 'INIT') t.report = true;
    for (const r of records) {
      const newest = t.latest[r.k];
      if (newest !== undefined && r.ts <= newest) {
        this.stats.stale++;
        continue;
      }
      t.latest[r.k] = r.ts;
      this.stats.records++;
      await this.apply(hostId, t, r);
    }
  }

  private patchOf(t: HostTrack): NonNullable<HostTrack['patch']> {
    t.patch ??= {};
    return t.patch;
  }

  private async apply(hostId: number, t: HostTrack, r: MonitorRecord): Promise<void> {
    switch (r.k) {
      case 'beacon':
        t.beaconMs = r.periodMs;
        return;
      case 'system':
        this.hostRows.push({ host_id: hostId, ts: r.ts, kind: 'system', data: JSON.stringify(r.system) });
        this.patchOf(t).facts = r.system;
        return;
      case 'host':
        this.hostRows.push({ host_id: hostId, ts: r.ts, kind: 'host', data: JSON.stringify(r.usage) });
        t.usage = r.usage;
        this.patchOf(t).monitoring = { ts: r.ts, usage: r.usage, datastore: t.datastore };
        return;
      case 'datastore':
        this.hostRows.push({ host_id: hostId, ts: r.ts, kind: 'datastore', data: JSON.stringify(r.datastore) });
        t.datastore = r.datastore;
        this.patchOf(t).monitoring = { ts: r.ts, usage: t.usage, datastore: r.datastore };
        return;
      case 'vm-usage': {
        const owned = await this.ownedBy(
          hostId,
          r.vms.map((v) => v.vmId),
        );
        // The hottest loop of ingest (a sample per VM every 30 s): fixed-shape literals, no rest/spread copies.
        for (const v of r.vms) {
          if (!owned.has(v.vmId)) continue;
          const current = {
            vmId: v.vmId,
            cpu: v.cpu,
            memoryKb: v.memoryKb,
            netRxBytes: v.netRxBytes,
            netTxBytes: v.netTxBytes,
            diskReadBytes: v.diskReadBytes,
            diskWriteBytes: v.diskWriteBytes,
            ts: r.ts,
            hostId,
          };
          this.vmRows.push({ vm_id: v.vmId, host_id: hostId, ts: r.ts, data: sampleJson(current) });
          this.vmCurrent.set(v.vmId, current);
        }
        return;
      }
      case 'vm-state':
        t.chain = t.chain.then(() =>
          this.syncVmStates(hostId, t, r).catch((err) => this.log.error({ err, hostId }, 'VM state sync failed')),
        );
        return;
    }
  }

  /** The subset of `ids` placed on `hostId`; the rest are refused (logged, counted). */
  private async ownedBy(hostId: number, ids: number[]): Promise<Set<number>> {
    const unknown = ids.filter((id) => !this.vmHost.has(id));
    if (unknown.length > 0) for (const [id, h] of await this.store.monitoring.vmHosts(unknown)) this.vmHost.set(id, h);
    const owned = new Set<number>();
    const refused: number[] = [];
    for (const id of ids) {
      if (this.vmHost.get(id) === hostId) owned.add(id);
      else refused.push(id);
    }
    if (refused.length > 0) {
      this.stats.refused += refused.length;
      this.log.warn({ hostId, vmIds: refused.slice(0, 10) }, 'host reported VMs that are not placed on it; refused');
    }
    return owned;
  }

  /** §5.4: apply observed states; a full list also powers off absent VMs and names wilds and zombies. */
  private async syncVmStates(
    hostId: number,
    t: HostTrack,
    r: Extract<MonitorRecord, { k: 'vm-state' }>,
  ): Promise<void> {
    const owned = await this.ownedBy(
      hostId,
      r.vms.map((v) => v.vmId),
    );
    const reports: WorkloadReport[] = [];
    const counting = new Set<number>();
    for (const v of r.vms) {
      if (!owned.has(v.vmId)) continue;
      if (v.misses !== undefined) counting.add(v.vmId);
      else reports.push({ vmId: v.vmId, state: v.state });
    }
    const applied = await this.lifecycle.observeWorkloads(hostId, reports, r.full, counting);
    if (applied.length > 0) this.log.info({ hostId, vms: applied, full: r.full }, 'VM states synced from host');
    if (!r.full) return;
    const wilds: NonNullable<HostBody['wilds']> = [];
    const zombies: NonNullable<HostBody['zombies']> = [];
    for (const v of r.vms) {
      if (!owned.has(v.vmId) && v.state === 'running')
        zombies.push({ deploy_id: v.deployId, runtime: '', vm_id: v.vmId });
    }
    const named = (r.foreign ?? []).map((f) => ({ ...f, id: /^one-(\d+)$/.exec(f.deployId)?.[1] }));
    const ids = named.filter((f) => f.id !== undefined).map((f) => Number(f.id));
    const exists = ids.length > 0 ? await this.store.monitoring.vmHosts(ids) : new Map<number, number | null>();
    for (const f of named) {
      if (f.id !== undefined && exists.has(Number(f.id)))
        zombies.push({ deploy_id: f.deployId, runtime: f.runtime, vm_id: Number(f.id) });
      else wilds.push({ deploy_id: f.deployId, runtime: f.runtime });
    }
    const p = this.patchOf(t);
    p.wilds = wilds;
    p.zombies = zombies;
  }

  // --- the tick -----------------------------------------------------------------------------------

  private async tick(): Promise<void> {
    const started = Date.now();
    const hostRows = this.hostRows;
    const vmRows = this.vmRows;
    this.hostRows = [];
    this.vmRows = [];
    await this.store.monitoring.insert(hostRows, vmRows);
    const committed = Date.now();
    if (vmRows.length > 0 && this.onVmSamples) this.onVmSamples(newestPerVm(vmRows));
    if (hostRows.length + vmRows.length > 0) {
      let max = 0;
      let sum = 0;
      for (const r of hostRows) {
        const lag = committed - r.ts;
        sum += lag;
        if (lag > max) max = lag;
      }
      for (const r of vmRows) {
        const lag = committed - r.ts;
        sum += lag;
        if (lag > max) max = lag;
      }
      this.stats.lastLagMs = max;
      this.stats.maxLagMs = Math.max(this.stats.maxLagMs, max);
      this.stats.lagMsTotal += sum;
      this.stats.lagSamples += hostRows.length + vmRows.length;
      this.stats.rowsWritten += hostRows.length + vmRows.length;
    }
    await this.foldHosts();
    await this.checkSilence(committed);
    this.stats.flushes++;
    this.stats.flushMsTotal += Date.now() - started;
  }

  /** Host bodies and MONITORED transitions, all in one transaction. */
  private async foldHosts(): Promise<void> {
    const work: [number, HostTrack, NonNullable<HostTrack['patch']> | null, boolean][] = [];
    for (const [id, t] of this.hosts) {
      if (!t.patch && !t.report) continue;
      work.push([id, t, t.patch, t.report]);
      t.patch = null;
      t.report = false;
    }
    if (work.length === 0) return;
    const now = Date.now();
    await this.store.objects.transaction(async (tx) => {
      // The hosts read in batches and written over (a compare-and-set on each), not read one by one.
      const current = new Map<number, PoolObject<'host'>>();
      for (let i = 0; i < work.length; i += HOST_BATCH) {
        const ids = work.slice(i, i + HOST_BATCH).map(([id]) => id);
        for (const h of await tx.list('host', { ids })) current.set(h.id, h);
      }
      for (const [id, t, patch, report] of work) {
        const h = current.get(id);
        if (!h) continue;
        const from = HOST_STATE_NAMES[h.state] ?? 'INIT';
        const change = report ? applyHostEvent(from, 'report') : null;
        await tx.replace(h, {
          ...h,
          state: change ? HOST_STATES[change.to] : h.state,
          template: patch?.facts ? { ...h.template, ...systemTemplate(patch.facts as HostSystemInfo) } : h.template,
          body: { ...h.body, ...(patch ?? {}), last_seen: Math.max(h.body.last_seen, t.lastReport || now) },
        });
        if (change) {
          t.state = change.to;
          t.errorSince = 0;
          this.log.info({ hostId: id, from, to: change.to }, 'host reports again');
        }
      }
    });
  }

  /** Hosts silent for N beacon periods go ERROR; their RUNNING VMs go UNKNOWN (reference §5.5). */
  private async checkSilence(now: number): Promise<void> {
    for (const [id, t] of this.hosts) {
      if (t.state !== 'MONITORED' && t.state !== 'INIT') continue;
      // Hosts never heard of since start get the same grace from the start.
      const since = t.lastReport || (t.state === 'MONITORED' ? this.startedAt : 0);
      if (since === 0 || now - since <= this.config.silentBeacons * t.beaconMs) continue;
      const moved = await this.store.objects.transaction(async (tx) => {
        const h = await tx.get('host', id);
        if (!h) return false;
        const change = applyHostEvent(HOST_STATE_NAMES[h.state] ?? 'INIT', 'silent');
        if (!change) return false;
        await tx.update('host', id, h.revision, (o) => ({ ...o, state: HOST_STATES[change.to] }));
        return true;
      });
      t.state = 'ERROR';
      if (!moved) continue;
      t.errorSince = now;
      this.stats.hostErrors++;
      const vms = await this.lifecycle.hostFailed(id);
      this.log.warn(
        { hostId: id, silentMs: now - since, beacons: this.config.silentBeacons, unknownVms: vms },
        'host silent: ERROR',
      );
      this.onHostError?.(id);
    }
  }

  private async expire(): Promise<void> {
    const now = Date.now();
    const h = this.config.hostExpirationSeconds;
    const v = this.config.vmExpirationSeconds;
    try {
      const n = await this.store.monitoring.expire(h > 0 ? now - h * 1000 : null, v > 0 ? now - v * 1000 : null);
      if (n > 0) this.log.debug({ rows: n }, 'monitoring rows expired');
    } catch (err) {
      this.log.warn({ err }, 'monitoring expiry failed');
    }
  }
}

/** A VM whose usage samples were just stored: its host and the newest sample's time. */
export interface VmSampleNote {
  vmId: number;
  hostId: number;
  ts: number;
}

function newestPerVm(rows: readonly VmMonitoringTable[]): VmSampleNote[] {
  const newest = new Map<number, VmSampleNote>();
  for (const r of rows) {
    const seen = newest.get(r.vm_id);
    if (!seen || r.ts > seen.ts) newest.set(r.vm_id, { vmId: r.vm_id, hostId: r.host_id, ts: r.ts });
  }
  return [...newest.values()];
}

/** OpenNebula's host template attributes from SYSTEM_HOST. */
function systemTemplate(s: HostSystemInfo): Record<string, string> {
  return {
    HOSTNAME: s.hostname,
    ARCH: s.arch,
    TOTALCPU: String(s.cpus * 100),
    TOTALMEMORY: String(s.memoryMb * 1024),
    RUNTIMES: s.runtimes.join(','),
    AGENT_VERSION: s.agentVersion,
    ...(s.cpuModel ? { MODELNAME: s.cpuModel } : {}),
    ...(s.cpuMhz ? { CPUSPEED: String(s.cpuMhz) } : {}),
    ...(s.kernel ? { KERNEL: s.kernel } : {}),
    ...networkFactsTemplate(s.networkDrivers, s.vhostUser),
  };
}

/** A VM sample's stored JSON: the usage fields only (the row has the VM, host and time). */
function sampleJson(v: VmUsage): string {
  return `{"cpu":${v.cpu},"memoryKb":${v.memoryKb},"netRxBytes":${v.netRxBytes},"netTxBytes":${v.netTxBytes},"diskReadBytes":${v.diskReadBytes},"diskWriteBytes":${v.diskWriteBytes}}`;
}
