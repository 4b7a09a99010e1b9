import { join } from 'node:path';
import type { WorkloadHandle } from '../drivers/runtime/types.js';
import type { WorkloadNics } from './network-host.js';
import { readJsonFile, writeAtomic } from './state-files.js';

/** What the agent remembers about one VM's workload across restarts. */
export interface WorkloadRecord {
  vmId: number;
  runtime: string;
  workDir: string;
  /** The driver's handle once created. */
  handle: WorkloadHandle | null;
  /** Whether the workload should be running: exits are reported only for running ones. */
  desired: 'running' | 'stopped';
  /** The last pid seen, to notice exits cheaply. */
  pid: number | null;
  /** The workload's own network namespace and NICs, when it has NICs. */
  nics?: WorkloadNics;
  /** sha256 of every cached image the workload uses (never evicted while the record exists). */
  images?: string[];
}

/**
 * The agent's local state: every workload it manages, persisted atomically so
 * a restarted agent re-attaches instead of restarting anything.
 */
export class WorkloadRegistry {
  private readonly records = new Map<number, WorkloadRecord>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(stateDir: string): Promise<WorkloadRegistry> {
    const reg = new WorkloadRegistry(join(stateDir, 'workloads.json'));
    const saved = (await readJsonFile<WorkloadRecord[]>(reg.path)) ?? [];
    for (const r of saved) reg.records.set(r.vmId, r);
    return reg;
  }

  get(vmId: number): WorkloadRecord | undefined {
    return this.records.get(vmId);
  }

  all(): WorkloadRecord[] {
    return [...this.records.values()];
  }

  async put(record: WorkloadRecord): Promise<void> {
    this.records.set(record.vmId, record);
    await this.persist();
  }

  async patch(vmId: number, patch: Partial<WorkloadRecord>): Promise<void> {
    const r = this.records.get(vmId);
    if (!r) return;
    this.records.set(vmId, { ...r, ...patch });
    await this.persist();
  }

  async remove(vmId: number): Promise<void> {
    if (this.records.delete(vmId)) await this.persist();
  }

  private persist(): Promise<void> {
    const snapshot = JSON.stringify(this.all());
    this.writing = this.writing.then(() => writeAtomic(this.path, snapshot));
    return this.writing;
  }
}
