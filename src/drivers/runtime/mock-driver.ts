/**
 * An in-memory RuntimeDriver: no processes, no files, thousands of workloads
 * per second. Same state machine as the crun driver (created → running ⇄
 * paused → stopped → running …, destroy → missing), with knobs on the shared
 * MockRuntimeWorld for faults, latency and self-exit. Used by scale tests,
 * agent tests and as the reference implementation of the conformance suite.
 */
import { OneError } from '../../core/errors.js';
import type { MockLimits, MockOp, MockRuntimeWorld, MockWorkload } from './mock-world.js';
import { CPU_PERIOD_US } from './oci-spec.js';
import type {
  ProbeResult,
  RuntimeCapabilities,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from './types.js';

export const MOCK_HANDLE_VERSION = 1;
const MIB = 1024 * 1024;

export const MOCK_CAPABILITIES: RuntimeCapabilities = Object.freeze({
  name: 'mock',
  kind: 'container',
  gracefulStop: true,
  reboot: true,
  suspend: true,
  limits: true,
  networkNamespace: true,
  logs: true,
  reattach: true,
});

export interface MockDriverOptions {
  world: MockRuntimeWorld;
  /** Override some capabilities (e.g. suspend: false) to test refusal paths. */
  capabilities?: Partial<RuntimeCapabilities>;
  /** Names must start with it (default 'one-'), like the real drivers. */
  namePrefix?: string;
}

export class MockDriver implements RuntimeDriver {
  readonly capabilities: RuntimeCapabilities;
  readonly world: MockRuntimeWorld;
  private readonly prefix: string;

  constructor(options: MockDriverOptions) {
    this.world = options.world;
    this.capabilities = Object.freeze({ ...MOCK_CAPABILITIES, ...options.capabilities });
    this.prefix = options.namePrefix ?? 'one-';
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    await this.enter('probe', undefined, signal);
    return { ...this.world.probeResult };
  }

  async create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle> {
    await this.enter('create', spec.name, signal);
    if (!spec.name.startsWith(this.prefix)) {
      throw new OneError('E_VALIDATION', `workload name ${JSON.stringify(spec.name)} must start with ${this.prefix}`, {
        name: spec.name,
      });
    }
    if (!this.world.workloads.has(spec.name)) {
      this.world.workloads.set(spec.name, {
        spec: structuredClone(spec),
        state: 'created',
        boots: 0,
        cpuSeconds: 0,
        limits: limitsOf(spec),
      });
    }
    return this.handleOf(this.world.workloads.get(spec.name) as MockWorkload);
  }

  async start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    const w = await this.workload('start', handle, signal);
    if (w.state !== 'running' && w.state !== 'paused') this.boot(w);
    return this.handleOf(w);
  }

  async stop(handle: WorkloadHandle, _timeoutMs: number, signal: AbortSignal): Promise<void> {
    const w = await this.workload('stop', handle, signal, { missingOk: true });
    if (w) halt(w);
  }

  async kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const w = await this.workload('kill', handle, signal, { missingOk: true });
    if (w) halt(w);
  }

  async reboot(handle: WorkloadHandle, _hard: boolean, signal: AbortSignal): Promise<WorkloadHandle> {
    this.require('reboot', 'reboot');
    const w = await this.workload('reboot', handle, signal);
    halt(w);
    this.boot(w);
    return this.handleOf(w);
  }

  async pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.require('suspend', 'pause');
    const w = await this.workload('pause', handle, signal);
    if (w.state === 'paused') return;
    if (w.state !== 'running') throw notRunning(w);
    w.state = 'paused';
  }

  async resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.require('suspend', 'resume');
    const w = await this.workload('resume', handle, signal);
    if (w.state === 'running') return;
    if (w.state !== 'paused') throw notRunning(w);
    w.state = 'running';
  }

  async destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    await this.enter('destroy', handle.name, signal);
    this.check(handle);
    this.world.workloads.delete(handle.name);
  }

  async inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus> {
    const w = await this.workload('inspect', handle, signal, { missingOk: true });
    if (!w) return { state: 'missing' };
    const status: WorkloadStatus = { state: w.state };
    if (w.pid !== undefined) status.pid = w.pid;
    if (w.exitCode !== undefined && w.state === 'stopped') status.exitCode = w.exitCode;
    if (w.startedAt !== undefined) status.startedAt = w.startedAt;
    return status;
  }

  /** Deterministic usage: each call while running adds CPU × 10 ms; memory is a quarter of the limit. */
  async stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats> {
    const w = await this.workload('stats', handle, signal, { missingOk: true });
    if (w?.state !== 'running') return { cpuSeconds: w?.cpuSeconds ?? 0, memoryBytes: 0 };
    w.cpuSeconds += Math.max(w.spec.cpu, 0.01) * 0.01;
    return {
      cpuSeconds: w.cpuSeconds,
      memoryBytes: Math.floor(w.limits.memoryLimitBytes / 4),
      netRxBytes: 0,
      netTxBytes: 0,
    };
  }

  async recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    const w = await this.workload('recover', handle, signal, { missingOk: true });
    return w ? this.handleOf(w) : handle;
  }

  async list(signal: AbortSignal): Promise<string[]> {
    await this.enter('list', undefined, signal);
    return [...this.world.workloads.keys()].filter((n) => n.startsWith(this.prefix)).sort();
  }

  /** The applied limits of `name` (what a cgroup would hold), for the conformance suite. */
  limitsOf(name: string): MockLimits | undefined {
    return this.world.workloads.get(name)?.limits;
  }

  // ------------------------------------------------------------------ helpers

  /** Counts the call, honours the signal, waits the injected latency and throws an injected fault. */
  private async enter(op: MockOp, name: string | undefined, signal: AbortSignal): Promise<void> {
    this.world.calls[op]++;
    signal.throwIfAborted();
    const latency = this.world.latencyOf(op);
    if (latency) await wait(latency.ms, latency.ignoreAbort ? undefined : signal);
    signal.throwIfAborted();
    const fault = this.world.takeFault(op, name);
    if (fault) throw fault;
  }

  private async workload(
    op: MockOp,
    handle: WorkloadHandle,
    signal: AbortSignal,
    options?: { missingOk: false },
  ): Promise<MockWorkload>;
  private async workload(
    op: MockOp,
    handle: WorkloadHandle,
    signal: AbortSignal,
    options: { missingOk: true },
  ): Promise<MockWorkload | undefined>;
  private async workload(
    op: MockOp,
    handle: WorkloadHandle,
    signal: AbortSignal,
    options: { missingOk: boolean } = { missingOk: false },
  ): Promise<MockWorkload | undefined> {
    await this.enter(op, handle.name, signal);
    this.check(handle);
    const w = this.world.workloads.get(handle.name);
    if (!w && !options.missingOk) {
      throw new OneError('E_DRIVER_FAILED', `workload ${handle.name} does not exist`, { name: handle.name });
    }
    return w;
  }

  private check(handle: WorkloadHandle): void {
    if (handle.driver !== this.capabilities.name || handle.version !== MOCK_HANDLE_VERSION) {
      throw new OneError('E_DRIVER_FAILED', `handle ${handle.driver}/v${handle.version} is not a mock handle`, {
        name: handle.name,
      });
    }
  }

  private require(capability: 'reboot' | 'suspend', action: string): void {
    if (!this.capabilities[capability]) {
      throw new OneError('E_DRIVER_UNSUPPORTED', `${this.capabilities.name} cannot ${action}`, {
        driver: this.capabilities.name,
        action,
      });
    }
  }

  private boot(w: MockWorkload): void {
    w.state = 'running';
    w.pid = this.world.allocatePid();
    w.startedAt = this.world.now();
    w.boots++;
    delete w.exitCode;
  }

  private handleOf(w: MockWorkload): WorkloadHandle {
    const data: Record<string, unknown> = { vmId: w.spec.vmId, workDir: w.spec.workDir };
    if (w.pid !== undefined) data.pid = w.pid;
    return { driver: this.capabilities.name, version: MOCK_HANDLE_VERSION, name: w.spec.name, data };
  }
}

function limitsOf(spec: WorkloadSpec): MockLimits {
  const limits: MockLimits = { memoryLimitBytes: Math.round(spec.memoryMb * MIB) };
  if (spec.vcpu > 0) {
    limits.cpuQuotaUs = Math.round(spec.vcpu * CPU_PERIOD_US);
    limits.cpuPeriodUs = CPU_PERIOD_US;
  }
  if (spec.cpuSet && spec.cpuSet.length > 0) limits.cpus = [...spec.cpuSet].sort((a, b) => a - b).join(',');
  const hugepages = (spec.hugepages ?? []).filter((h) => h.pages > 0);
  if (hugepages.length > 0) limits.hugepageBytes = hugepages.reduce((sum, h) => sum + h.pages * h.sizeKb * 1024, 0);
  return limits;
}

function halt(w: MockWorkload): void {
  if (w.state === 'running' || w.state === 'paused') {
    w.state = 'stopped';
    delete w.pid;
  }
}

function notRunning(w: MockWorkload): OneError {
  return new OneError('E_DRIVER_FAILED', `workload ${w.spec.name} is ${w.state}`, {
    name: w.spec.name,
    state: w.state,
  });
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      if (timer) clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
