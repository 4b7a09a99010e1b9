/**
 * The state behind MockDriver: workloads, pids and injected faults. It lives
 * outside the driver so a new driver instance given the same world re-attaches
 * (the mock's version of "the containers outlived the agent"). Everything is
 * deterministic: pids count up from `firstPid`, no randomness, the clock is
 * injectable.
 */
import type { WorkloadSpec, WorkloadState } from './types.js';

export const MOCK_OPS = [
  'probe',
  'create',
  'start',
  'stop',
  'kill',
  'reboot',
  'pause',
  'resume',
  'destroy',
  'inspect',
  'stats',
  'recover',
  'list',
] as const;
export type MockOp = (typeof MOCK_OPS)[number];

/** What the mock "applied" to the workload, as a real driver would to a cgroup. */
export interface MockLimits {
  memoryLimitBytes: number;
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  cpus?: string;
  /** Sum of the hugetlb limits, bytes. */
  hugepageBytes?: number;
}

export interface MockWorkload {
  spec: WorkloadSpec;
  state: Exclude<WorkloadState, 'missing'>;
  pid?: number;
  startedAt?: number;
  exitCode?: number;
  /** How many times a main process was started. */
  boots: number;
  cpuSeconds: number;
  limits: MockLimits;
}

/** An injected failure: the next `times` calls of `op` (for `name`, when set) throw `error()`. */
interface Fault {
  op: MockOp;
  name?: string;
  remaining: number;
  error: () => Error;
}

export interface MockLatency {
  ms: number;
  /** Keep waiting even when the signal aborts (a driver stuck in a syscall), to test the host's own timeout. */
  ignoreAbort?: boolean;
}

/** The error an injected fault throws by default: looks like a failed host command. */
export class MockFaultError extends Error {
  readonly stderr: string;
  constructor(op: MockOp, name: string | undefined) {
    super(`mock ${op} failed${name ? ` for ${name}` : ''}`);
    this.name = 'MockFaultError';
    this.stderr = `mock: injected ${op} failure\n`;
  }
}

export interface MockWorldOptions {
  firstPid?: number;
  now?: () => number;
}

export class MockRuntimeWorld {
  readonly workloads = new Map<string, MockWorkload>();
  /** Calls per operation, for assertions (counted before faults and latency). */
  readonly calls: Record<MockOp, number>;
  /** What probe answers. */
  probeResult: { usable: boolean; reason?: string; version?: string } = { usable: true, version: 'mock-1' };
  readonly now: () => number;
  private nextPid: number;
  private readonly faults: Fault[] = [];
  private readonly latency = new Map<MockOp | '*', MockLatency>();

  constructor(options: MockWorldOptions = {}) {
    this.nextPid = options.firstPid ?? 1000;
    this.now = options.now ?? Date.now;
    this.calls = Object.fromEntries(MOCK_OPS.map((op) => [op, 0])) as Record<MockOp, number>;
  }

  allocatePid(): number {
    return this.nextPid++;
  }

  /** The next `times` (default 1) calls of `op`, optionally only for workload `name`, throw. */
  failNext(op: MockOp, options: { times?: number; name?: string; error?: () => Error } = {}): void {
    const fault: Fault = {
      op,
      remaining: options.times ?? 1,
      error: options.error ?? (() => new MockFaultError(op, options.name)),
    };
    if (options.name !== undefined) fault.name = options.name;
    this.faults.push(fault);
  }

  /** Every call of `op` ('*' = all) waits `ms` first; Infinity hangs until aborted (or forever with ignoreAbort). */
  setLatency(op: MockOp | '*', ms: number, options: { ignoreAbort?: boolean } = {}): void {
    if (ms <= 0) this.latency.delete(op);
    else this.latency.set(op, { ms, ...(options.ignoreAbort ? { ignoreAbort: true } : {}) });
  }

  latencyOf(op: MockOp): MockLatency | undefined {
    return this.latency.get(op) ?? this.latency.get('*');
  }

  /** Removes and returns the error of a matching fault, if any. */
  takeFault(op: MockOp, name: string | undefined): Error | undefined {
    const index = this.faults.findIndex((f) => f.op === op && (f.name === undefined || f.name === name));
    if (index < 0) return undefined;
    const fault = this.faults[index] as Fault;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.error();
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.latency.clear();
  }

  /** The main process of `name` exits by itself with `code` (a crash, or a command that finished). */
  exit(name: string, code = 0): void {
    const w = this.workloads.get(name);
    if (!w || (w.state !== 'running' && w.state !== 'paused')) return;
    w.state = 'stopped';
    w.exitCode = code;
    delete w.pid;
  }
}
