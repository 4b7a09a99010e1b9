import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { HostFacts } from '../../core/agent-protocol.js';
import type { MonitorKind, MonitorRecord, ProbePeriods, VmStateEntry } from '../../core/monitoring.js';
import { HostUsageProbe, probeDatastore, probeSystem } from './host-probes.js';
import { runScriptProbes } from './script-probes.js';
import { VmStateProbe, VmUsageProbe, type WorkloadSource } from './vm-probes.js';

const gzipAsync = promisify(gzip);

export interface AgentMonitorOptions {
  /** Seconds per probe (core/monitoring.ts PROBE_PERIOD_DEFAULTS_S). */
  periods: ProbePeriods;
  /** Operator probe scripts (executables). */
  probesDir: string;
  probeTimeoutMs: number;
  /** VM-state runs a VM must be missing before it is reported missing. */
  missingRuns: number;
  /** The system datastore: the agent's state directory. */
  stateDir: string;
  /** Records produced within this window travel in one frame. */
  batchMs: number;
}

/** Encodes a batch for the wire: base64(gzip(JSON)). */
export async function encodeMonitorBatch(records: MonitorRecord[]): Promise<string> {
  return (await gzipAsync(Buffer.from(JSON.stringify(records)), { level: 6 })).toString('base64');
}

/**
 * The agent's push monitor: runs every probe on its own period, keeps the
 * newest record of each kind until it is sent, and sends what it has in
 * batches of one gzip-compressed frame. While the link is down nothing is
 * sent and nothing piles up: a newer record replaces the older one of its kind
 * (VM-state changes merge by VM), so the buffer is bounded by the number of
 * kinds and VMs, and everything is sent on reconnect.
 */
export class AgentMonitor {
  private readonly pending = new Map<MonitorKind, MonitorRecord>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly usage: HostUsageProbe;
  private readonly vmState: VmStateProbe;
  private readonly vmUsage: VmUsageProbe;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFullSync = 0;
  private stopped = false;
  /** Frames and records sent (for tests and the benchmark). */
  sentFrames = 0;
  sentRecords = 0;

  constructor(
    private readonly options: AgentMonitorOptions,
    private readonly facts: () => Promise<HostFacts>,
    cpus: number,
    source: WorkloadSource,
    private readonly send: (z: string) => boolean,
    private readonly log: Logger,
  ) {
    this.usage = new HostUsageProbe(cpus);
    this.vmState = new VmStateProbe(source, options.missingRuns, this.abort.signal);
    this.vmUsage = new VmUsageProbe(source, this.abort.signal);
  }

  start(): void {
    const p = this.options.periods;
    this.loop('beacon', p.beacon, async () => ({ k: 'beacon', ts: Date.now(), periodMs: p.beacon * 1000 }));
    this.loop('system', p.system, async () => ({ k: 'system', ts: Date.now(), system: await probeSystem(this.facts) }));
    this.loop('host', p.host, async () => {
      const extra = await runScriptProbes(this.options.probesDir, this.options.probeTimeoutMs);
      return { k: 'host', ts: Date.now(), usage: await this.usage.run(extra) };
    });
    this.loop('datastore', p.datastore, async () => ({
      k: 'datastore',
      ts: Date.now(),
      datastore: await probeDatastore(this.options.stateDir),
    }));
    this.loop('vm-state', p['vm-state'], async () => {
      const full = Date.now() - this.lastFullSync >= p['vm-sync'] * 1000;
      const r = await this.vmState.run(full);
      if (full) this.lastFullSync = Date.now();
      if (!full && r.vms.length === 0) return null;
      return { k: 'vm-state', ts: Date.now(), full, vms: r.vms, ...(r.foreign ? { foreign: r.foreign } : {}) };
    });
    this.loop('vm-usage', p['vm-usage'], async () => ({
      k: 'vm-usage',
      ts: Date.now(),
      vms: await this.vmUsage.run(),
    }));
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  /** The link is (back) up: a beacon and a full VM sync go out now, with whatever was kept. */
  linkUp(): void {
    this.lastFullSync = 0;
    this.vmState.reset();
    this.runNow('beacon');
    this.runNow('vm-state');
    this.scheduleFlush(0);
  }

  private readonly runners = new Map<string, () => void>();

  private runNow(name: string): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.runners.get(name)?.();
  }

  private loop(name: MonitorKind, periodS: number, probe: () => Promise<MonitorRecord | null>): void {
    let running = false;
    const tick = async () => {
      if (this.stopped || running) return;
      running = true;
      try {
        const record = await probe();
        if (record) this.keep(record);
      } catch (err) {
        this.log.warn({ probe: name, err: err instanceof Error ? err.message : String(err) }, 'probe failed');
      } finally {
        running = false;
        if (!this.stopped)
          this.timers.set(
            name,
            setTimeout(() => void tick(), periodS * 1000),
          );
      }
    };
    this.runners.set(name, () => void tick());
    void tick();
  }

  private keep(record: MonitorRecord): void {
    const prev = this.pending.get(record.k);
    if (record.k === 'vm-state' && prev?.k === 'vm-state' && !record.full) {
      // Changes since the last send must all reach the front-end: merge by VM.
      const byVm = new Map<number, VmStateEntry>(prev.vms.map((v) => [v.vmId, v]));
      for (const v of record.vms) byVm.set(v.vmId, v);
      this.pending.set('vm-state', { ...prev, ts: record.ts, vms: [...byVm.values()] });
    } else {
      this.pending.set(record.k, record);
    }
    this.scheduleFlush(this.options.batchMs);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, delayMs);
  }

  private async flush(): Promise<void> {
    if (this.pending.size === 0 || this.stopped) return;
    const records = [...this.pending.values()];
    const z = await encodeMonitorBatch(records);
    if (!this.send(z)) return; // link down: keep them (newest per kind) until linkUp
    for (const r of records) if (this.pending.get(r.k) === r) this.pending.delete(r.k);
    this.sentFrames++;
    this.sentRecords += records.length;
  }
}
