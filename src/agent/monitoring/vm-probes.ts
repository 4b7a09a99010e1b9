/**
 * VM probes (OpenNebula's vm/status and vm/monitor, reference §5.4): the state
 * of every workload this agent manages, sent as changes only with a full list
 * (plus foreign workloads) every sync period, and per-workload usage from the
 * runtime's cgroup counters.
 */
import type { WorkloadReport } from '../../core/agent-protocol.js';
import type { ForeignWorkload, VmStateEntry, VmUsage } from '../../core/monitoring.js';
import type { RuntimeDriver, WorkloadHandle } from '../../drivers/runtime/types.js';

/** What the VM probes need from the agent: its workloads and runtimes. */
export interface WorkloadSource {
  records(): { vmId: number; runtime: string; handle: WorkloadHandle | null }[];
  runtimes: ReadonlyMap<string, RuntimeDriver>;
  /** A plan is running for this VM: its state is in flux, skip it this time. */
  busy(vmId: number): boolean;
}

export class VmStateProbe {
  /** vmId → state last sent. */
  private readonly sent = new Map<number, WorkloadReport['state']>();
  private readonly misses = new Map<number, number>();

  constructor(
    private readonly source: WorkloadSource,
    /** Runs in a row a VM must be missing before it is reported missing. */
    private readonly missingRuns: number,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * One run. Returns the changed entries, or every entry plus the foreign
   * workloads when `full`. A vanished workload counts one miss per run and is
   * reported `missing` only after `missingRuns` runs in a row.
   */
  async run(full: boolean): Promise<{ vms: VmStateEntry[]; foreign?: ForeignWorkload[] }> {
    const all: VmStateEntry[] = [];
    const changed: VmStateEntry[] = [];
    const known = new Set<number>();
    const names = new Set<string>();
    for (const r of this.source.records()) {
      known.add(r.vmId);
      if (r.handle) names.add(`${r.runtime}/${r.handle.name}`);
      if (!r.handle || this.source.busy(r.vmId)) {
        // In flux (a plan runs, or the workload is not created yet): no state to report, but a full
        // list still names it as "not absent". Left out, a list taken during a deploy and delivered
        // after the deploy's result made the front-end power off the VM it had just seen RUNNING.
        all.push({ vmId: r.vmId, state: 'missing', deployId: r.handle?.name ?? `one-${r.vmId}`, misses: 0 });
        continue;
      }
      const driver = this.source.runtimes.get(r.runtime);
      let state: WorkloadReport['state'] = 'missing';
      if (driver) {
        try {
          state = (await driver.inspect(r.handle, this.signal)).state;
        } catch {
          state = 'missing';
        }
      }
      if (state === 'missing') {
        const n = (this.misses.get(r.vmId) ?? 0) + 1;
        this.misses.set(r.vmId, n);
        if (n < this.missingRuns) {
          // still counting: a full list names it so the front-end does not take it for absent
          all.push({ vmId: r.vmId, state: 'missing', deployId: r.handle.name, misses: n });
          continue;
        }
      } else {
        this.misses.delete(r.vmId);
      }
      const entry: VmStateEntry = { vmId: r.vmId, state, deployId: r.handle.name };
      all.push(entry);
      if (this.sent.get(r.vmId) !== state) changed.push(entry);
      this.sent.set(r.vmId, state);
    }
    for (const id of [...this.sent.keys()]) if (!known.has(id)) this.sent.delete(id);
    for (const id of [...this.misses.keys()]) if (!known.has(id)) this.misses.delete(id);
    if (!full) return { vms: changed };
    const foreign: ForeignWorkload[] = [];
    for (const [runtime, driver] of this.source.runtimes) {
      let listed: string[] = [];
      try {
        listed = await driver.list(this.signal);
      } catch {
        continue;
      }
      for (const name of listed) if (!names.has(`${runtime}/${name}`)) foreign.push({ deployId: name, runtime });
    }
    return { vms: all, foreign };
  }

  /** Forget what was sent: the next run reports every VM (after a reconnect). */
  reset(): void {
    this.sent.clear();
  }
}

export class VmUsageProbe {
  private readonly lastCpu = new Map<number, { cpuSeconds: number; at: number }>();

  constructor(
    private readonly source: WorkloadSource,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<VmUsage[]> {
    const out: VmUsage[] = [];
    const seen = new Set<number>();
    for (const r of this.source.records()) {
      if (!r.handle || this.source.busy(r.vmId)) continue;
      const driver = this.source.runtimes.get(r.runtime);
      if (!driver) continue;
      let stats: Awaited<ReturnType<RuntimeDriver['stats']>>;
      try {
        stats = await driver.stats(r.handle, this.signal);
      } catch {
        continue;
      }
      seen.add(r.vmId);
      const now = performance.now();
      const prev = this.lastCpu.get(r.vmId);
      this.lastCpu.set(r.vmId, { cpuSeconds: stats.cpuSeconds, at: now });
      const cpu =
        prev && now > prev.at
          ? Math.max(0, ((stats.cpuSeconds - prev.cpuSeconds) / ((now - prev.at) / 1000)) * 100)
          : 0;
      out.push({
        vmId: r.vmId,
        cpu: Math.round(cpu * 100) / 100,
        memoryKb: Math.round(stats.memoryBytes / 1024),
        netRxBytes: stats.netRxBytes ?? 0,
        netTxBytes: stats.netTxBytes ?? 0,
        diskReadBytes: stats.diskReadBytes ?? 0,
        diskWriteBytes: stats.diskWriteBytes ?? 0,
      });
    }
    for (const id of [...this.lastCpu.keys()]) if (!seen.has(id)) this.lastCpu.delete(id);
    return out;
  }
}
