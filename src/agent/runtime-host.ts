/**
 * The host-side wrapper around every RuntimeDriver, so drivers stay dumb:
 * - init once: the first action that starts something waits for one probe;
 *   an unusable runtime refuses those actions (inspect/stop/destroy still work);
 * - capability checks before the driver is called (E_DRIVER_UNSUPPORTED);
 * - a timeout per operation (defaults below) combined with the caller's signal,
 *   enforced even when a driver ignores its signal (E_DRIVER_TIMEOUT);
 * - error normalisation: anything that is not a OneError becomes
 *   E_DRIVER_FAILED with short context, `cause`, and the failed command's
 *   stderr (trimmed) in details; an abort by the caller rethrows the caller's reason;
 * - logging with a pino child per operation (`vmId`, `op`, `durationMs`).
 *
 * It implements RuntimeDriver itself, so the agent holds RuntimeHosts where
 * it would hold drivers.
 */
import type { Logger } from 'pino';
import { isOneError, OneError } from '../core/errors.js';
import type {
  MachineDevice,
  ProbeResult,
  RuntimeCapabilities,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from '../drivers/runtime/types.js';

export type RuntimeOp =
  | 'probe'
  | 'create'
  | 'start'
  | 'stop'
  | 'kill'
  | 'reboot'
  | 'pause'
  | 'resume'
  | 'destroy'
  | 'inspect'
  | 'stats'
  | 'recover'
  | 'list'
  | 'hotplug';

/** Per-operation time limits, ms. `stop` is added to the stop timeout the caller asks for. */
export type RuntimeTimeouts = Record<RuntimeOp, number>;

/** The one place the defaults live (ms). */
export const DEFAULT_RUNTIME_TIMEOUTS: Readonly<RuntimeTimeouts> = Object.freeze({
  probe: 60_000, // may build the probe image and run a container
  create: 60_000, // writes the bundle; microVM drivers may copy disks
  start: 30_000,
  stop: 5_000, // on top of the requested graceful timeout
  kill: 15_000,
  reboot: 45_000, // soft reboot waits the driver's grace period first
  pause: 10_000,
  resume: 10_000,
  destroy: 60_000,
  inspect: 10_000,
  stats: 10_000,
  recover: 30_000,
  list: 15_000,
  hotplug: 60_000, // a detach waits for the guest to release the device (5 s of it is Linux's pciehp delay)
});

/** Operations logged at info on success; the others (polling) at debug. */
const CHANGES: ReadonlySet<RuntimeOp> = new Set([
  'create',
  'start',
  'stop',
  'kill',
  'reboot',
  'pause',
  'resume',
  'destroy',
  'recover',
  'hotplug',
]);

const STDERR_MAX = 2000;

export interface RuntimeHostOptions {
  timeouts?: Partial<RuntimeTimeouts>;
}

interface OpContext {
  op: RuntimeOp;
  name?: string;
  vmId?: number;
  timeoutMs: number;
}

export class RuntimeHost implements RuntimeDriver {
  readonly capabilities: RuntimeCapabilities;
  readonly timeouts: Readonly<RuntimeTimeouts>;
  private initialised: Promise<ProbeResult> | undefined;

  constructor(
    readonly driver: RuntimeDriver,
    private readonly log: Logger,
    options: RuntimeHostOptions = {},
  ) {
    this.capabilities = driver.capabilities;
    this.timeouts = Object.freeze({ ...DEFAULT_RUNTIME_TIMEOUTS, ...options.timeouts });
  }

  /**
   * The driver's probe, run once; later calls share its answer. A probe that
   * threw (timeout, abort) is not remembered, so the next call tries again.
   */
  init(signal: AbortSignal): Promise<ProbeResult> {
    if (!this.initialised) {
      const attempt = this.run({ op: 'probe', timeoutMs: this.timeouts.probe }, signal, (s) => this.driver.probe(s));
      this.initialised = attempt;
      attempt.then(
        (result) =>
          this.log.info({ usable: result.usable, reason: result.reason, version: result.version }, 'runtime probed'),
        () => {
          if (this.initialised === attempt) this.initialised = undefined;
        },
      );
    }
    return this.initialised;
  }

  probe(signal: AbortSignal): Promise<ProbeResult> {
    return this.init(signal);
  }

  async create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle> {
    if (spec.netns !== undefined && spec.netns !== 'host') this.require('networkNamespace', 'join a network namespace');
    await this.ensureUsable('create', signal);
    const ctx = { op: 'create' as const, name: spec.name, vmId: spec.vmId, timeoutMs: this.timeouts.create };
    return this.run(ctx, signal, (s) => this.driver.create(spec, s));
  }

  async start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    await this.ensureUsable('start', signal);
    return this.run(this.ctx('start', handle), signal, (s) => this.driver.start(handle, s));
  }

  stop(handle: WorkloadHandle, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const ctx = { ...this.ctx('stop', handle), timeoutMs: Math.max(0, timeoutMs) + this.timeouts.stop };
    return this.run(ctx, signal, (s) => this.driver.stop(handle, timeoutMs, s));
  }

  kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    return this.run(this.ctx('kill', handle), signal, (s) => this.driver.kill(handle, s));
  }

  async reboot(handle: WorkloadHandle, hard: boolean, signal: AbortSignal): Promise<WorkloadHandle> {
    this.require('reboot', 'reboot');
    await this.ensureUsable('reboot', signal);
    return this.run(this.ctx('reboot', handle), signal, (s) => this.driver.reboot(handle, hard, s));
  }

  async pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.require('suspend', 'pause');
    return this.run(this.ctx('pause', handle), signal, (s) => this.driver.pause(handle, s));
  }

  async resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.require('suspend', 'resume');
    return this.run(this.ctx('resume', handle), signal, (s) => this.driver.resume(handle, s));
  }

  destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    return this.run(this.ctx('destroy', handle), signal, (s) => this.driver.destroy(handle, s));
  }

  inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus> {
    return this.run(this.ctx('inspect', handle), signal, (s) => this.driver.inspect(handle, s));
  }

  stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats> {
    return this.run(this.ctx('stats', handle), signal, (s) => this.driver.stats(handle, s));
  }

  async recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    this.require('reattach', 're-attach to a workload');
    return this.run(this.ctx('recover', handle), signal, (s) => this.driver.recover(handle, s));
  }

  list(signal: AbortSignal): Promise<string[]> {
    return this.run({ op: 'list', timeoutMs: this.timeouts.list }, signal, (s) => this.driver.list(s));
  }

  attachDevice(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void> {
    const m = this.machine('attach a device');
    return this.run(this.ctx('hotplug', handle), signal, (s) => m.attachDevice(handle, device, s));
  }

  detachDevice(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void> {
    const m = this.machine('detach a device');
    return this.run(this.ctx('hotplug', handle), signal, (s) => m.detachDevice(handle, device, s));
  }

  updateContext(handle: WorkloadHandle, context: Record<string, string>, signal: AbortSignal): Promise<void> {
    const m = this.machine('update the context');
    return this.run(this.ctx('hotplug', handle), signal, (s) => m.updateContext(handle, context, s));
  }

  // ------------------------------------------------------------------ helpers

  /** The driver's hot-plug methods, when it declares machineHotplug and has them. */
  private machine(action: string): Required<Pick<RuntimeDriver, 'attachDevice' | 'detachDevice' | 'updateContext'>> {
    this.require('machineHotplug', action);
    const d = this.driver;
    if (!d.attachDevice || !d.detachDevice || !d.updateContext) {
      throw new OneError('E_DRIVER_UNSUPPORTED', `runtime ${this.capabilities.name} cannot ${action}`);
    }
    return {
      attachDevice: d.attachDevice.bind(d),
      detachDevice: d.detachDevice.bind(d),
      updateContext: d.updateContext.bind(d),
    };
  }

  private ctx(op: RuntimeOp, handle: WorkloadHandle): OpContext {
    const ctx: OpContext = { op, name: handle.name, timeoutMs: this.timeouts[op] };
    const vmId = vmIdOf(handle);
    if (vmId !== undefined) ctx.vmId = vmId;
    return ctx;
  }

  private require(capability: Exclude<keyof RuntimeCapabilities, 'name' | 'kind'>, action: string): void {
    if (this.capabilities[capability]) return;
    const driver = this.capabilities.name;
    throw new OneError('E_DRIVER_UNSUPPORTED', `runtime ${driver} cannot ${action}`, { driver, action, capability });
  }

  /** Waits for the one probe; actions that start something are refused on an unusable runtime. */
  private async ensureUsable(op: RuntimeOp, signal: AbortSignal): Promise<void> {
    const result = await this.init(signal);
    if (result.usable) return;
    const driver = this.capabilities.name;
    throw new OneError(
      'E_DRIVER_FAILED',
      `runtime ${driver} is not usable on this host: ${result.reason ?? 'probe failed'}`,
      {
        driver,
        op,
        reason: result.reason,
      },
    );
  }

  private async run<T>(ctx: OpContext, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const fields: Record<string, unknown> = { op: ctx.op };
    if (ctx.vmId !== undefined) fields.vmId = ctx.vmId;
    if (ctx.name !== undefined) fields.workload = ctx.name;
    const log = this.log.child(fields);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), ctx.timeoutMs);
    const combined = AbortSignal.any([signal, timeout.signal]);
    const t0 = performance.now();
    try {
      const result = await untilAborted(fn(combined), combined);
      const durationMs = Math.round(performance.now() - t0);
      if (CHANGES.has(ctx.op)) log.info({ durationMs }, 'runtime op done');
      else log.debug({ durationMs }, 'runtime op done');
      return result;
    } catch (err) {
      const durationMs = Math.round(performance.now() - t0);
      if (!timeout.signal.aborted && signal.aborted) {
        log.info({ durationMs }, 'runtime op aborted');
        throw signal.reason;
      }
      const error = timeout.signal.aborted ? this.timeoutError(ctx) : this.normalise(err, ctx);
      log.warn({ durationMs, code: error.code, err: error.message, ...error.details }, 'runtime op failed');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private label(ctx: OpContext): string {
    return `${this.capabilities.name} ${ctx.op}${ctx.name ? ` ${ctx.name}` : ''}`;
  }

  private timeoutError(ctx: OpContext): OneError {
    return new OneError('E_DRIVER_TIMEOUT', `${this.label(ctx)} timed out after ${ctx.timeoutMs} ms`, {
      driver: this.capabilities.name,
      op: ctx.op,
      timeoutMs: ctx.timeoutMs,
    });
  }

  /** OneErrors keep their code (with context added); anything else becomes E_DRIVER_FAILED. */
  private normalise(err: unknown, ctx: OpContext): OneError {
    if (isOneError(err)) return err.wrap(this.label(ctx));
    const message = err instanceof Error ? err.message : String(err);
    const details: Record<string, unknown> = { driver: this.capabilities.name, op: ctx.op };
    if (ctx.name !== undefined) details.workload = ctx.name;
    const stderr = (err as { stderr?: unknown } | null)?.stderr;
    if (typeof stderr === 'string' && stderr.trim() !== '') details.stderr = trimStderr(stderr);
    const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
    if (typeof exitCode === 'number') details.exitCode = exitCode;
    return new OneError('E_DRIVER_FAILED', `${this.label(ctx)}: ${message}`, details, { cause: err });
  }
}

/** The last STDERR_MAX characters, trimmed: the end of stderr says what failed. */
export function trimStderr(stderr: string): string {
  const text = stderr.trim();
  return text.length <= STDERR_MAX ? text : `…${text.slice(-STDERR_MAX)}`;
}

/** vmId from the handle (both bundled drivers store it) or from a `one-<id>` name. */
export function vmIdOf(handle: WorkloadHandle): number | undefined {
  const stored = handle.data.vmId;
  if (typeof stored === 'number') return stored;
  const match = /^one-(\d+)$/.exec(handle.name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts, even when the
 * driver ignores the signal and never settles (its late result is dropped).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
