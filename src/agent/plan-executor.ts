import { existsSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FrontEndMessage, PlanMachine, PlanOp, WorkloadReport } from '../core/agent-protocol.js';
import { isOneError, OneError } from '../core/errors.js';
import type { MachineSpec, RuntimeDriver, WorkloadSpec } from '../drivers/runtime/types.js';
import type { Channel } from './channel.js';
import type { ImageCache } from './image-cache.js';
import type { WorkloadRecord, WorkloadRegistry } from './workload-registry.js';

type Plan = Extract<FrontEndMessage, { t: 'plan' }>;

/** The runtimes this agent offers, by name, each already wrapped with timeouts and logging. */
export type Runtimes = ReadonlyMap<string, RuntimeDriver>;

const RECENT_PLANS = 2048;
/**
 * Plans for different VMs run concurrently, but only this many at once per
 * core: a burst of 100 container starts contending for two cores finishes
 * later, first and last, than the same starts taken a few at a time.
 */
const PLANS_PER_CPU = 2;
const EXIT_POLL_MS = 1000;

/**
 * Runs the front-end's plans on this host. Each op is idempotent (the
 * front-end re-sends plans after a reconnect), plans for one VM run one at a
 * time, and the result is stored in the outbox before it is sent. A watcher
 * notices workloads that exit by themselves and reports them as events.
 */
export class PlanExecutor {
  private readonly chains = new Map<number, Promise<void>>();
  private readonly recent = new Set<string>();
  private watcher: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private readonly slots = new Semaphore(Math.max(2, availableParallelism() * PLANS_PER_CPU));

  constructor(
    private readonly stateDir: string,
    private readonly runtimes: Runtimes,
    private readonly registry: WorkloadRegistry,
    private readonly images: ImageCache,
    private readonly channel: () => Channel,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.watcher = setInterval(() => void this.checkExits(), EXIT_POLL_MS);
  }

  stop(): void {
    if (this.watcher) clearInterval(this.watcher);
    this.abort.abort();
  }

  submit(plan: Plan): void {
    if (this.recent.has(plan.planId)) return;
    this.recent.add(plan.planId);
    if (this.recent.size > RECENT_PLANS) this.recent.delete(this.recent.values().next().value as string);
    const prev = this.chains.get(plan.vmId) ?? Promise.resolve();
    const next = prev.then(() => this.slots.run(() => this.execute(plan)));
    this.chains.set(plan.vmId, next);
    void next.finally(() => {
      if (this.chains.get(plan.vmId) === next) this.chains.delete(plan.vmId);
    });
  }

  /** The last `maxBytes` of a VM's console log (stdout/stderr of its workload). */
  async readLog(vmId: number, maxBytes: number): Promise<{ data: string; truncated: boolean }> {
    const path = join(this.stateDir, 'vms', String(vmId), 'console.log');
    if (!existsSync(path)) return { data: '', truncated: false };
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, Math.max(0, maxBytes));
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      return { data: buf.toString('utf8'), truncated: length < size };
    } finally {
      await fh.close();
    }
  }

  /** The VNC socket of a VM's workload (microVMs with GRAPHICS=[TYPE=VNC]), when it exists. */
  vncSocket(vmId: number): string | undefined {
    const path = join(this.stateDir, 'vms', String(vmId), 'workload', 'vnc.sock');
    return existsSync(path) ? path : undefined;
  }

  /** The state of every workload this agent manages, for the hello inventory. */
  async inventory(): Promise<WorkloadReport[]> {
    const out: WorkloadReport[] = [];
    for (const r of this.registry.all()) out.push(await this.report(r));
    return out;
  }

  /** Re-attaches to every workload after a restart (same processes, nothing restarted). */
  async recoverAll(): Promise<void> {
    for (const r of this.registry.all()) {
      const driver = this.runtimes.get(r.runtime);
      if (!driver || !r.handle) continue;
      try {
        const handle = await driver.recover(r.handle, this.abort.signal);
        const status = await driver.inspect(handle, this.abort.signal);
        await this.registry.patch(r.vmId, { handle, pid: status.pid ?? null });
        this.log.info({ vmId: r.vmId, pid: status.pid, state: status.state }, 're-attached to workload');
      } catch (err) {
        this.log.warn({ vmId: r.vmId, err: String(err) }, 'could not re-attach to workload');
      }
    }
  }

  private async execute(plan: Plan): Promise<void> {
    const log = this.log.child({ vmId: plan.vmId, op: plan.op, planId: plan.planId });
    const started = Date.now();
    let result: { ok: true; workload?: WorkloadReport } | { ok: false; error: { code: string; message: string } };
    try {
      const workload = await this.run(plan);
      result = workload ? { ok: true, workload } : { ok: true };
      log.info({ ms: Date.now() - started }, 'plan done');
    } catch (err) {
      const one = isOneError(err) ? err : new OneError('E_DRIVER_FAILED', String(err), {}, { cause: err });
      result = { ok: false, error: { code: one.code, message: one.message } };
      log.warn({ ms: Date.now() - started, code: one.code, err: one.message }, 'plan failed');
    }
    await this.channel().emit({ t: 'result', planId: plan.planId, vmId: plan.vmId, op: plan.op, ...result });
  }

  private async run(plan: Plan): Promise<WorkloadReport | undefined> {
    const signal = this.abort.signal;
    const op: PlanOp = plan.op;
    switch (op) {
      case 'prolog':
      case 'prolog-resume':
      case 'prolog-undeploy':
      case 'prolog-migrate':
        await this.prolog(plan, signal);
        return undefined;
      case 'boot':
        return this.boot(plan, signal);
      case 'restore': {
        const r = await this.mustRecord(plan);
        const driver = this.driver(r.runtime);
        const status = r.handle ? await driver.inspect(r.handle, signal) : undefined;
        if (status?.state === 'paused' && r.handle) {
          await driver.resume(r.handle, signal);
          await this.registry.patch(r.vmId, { desired: 'running' });
          return this.report({ ...r, desired: 'running' });
        }
        return this.boot(plan, signal);
      }
      case 'shutdown':
      case 'cancel': {
        const r = this.registry.get(plan.vmId);
        if (!r?.handle) return { vmId: plan.vmId, state: 'missing' };
        await this.registry.patch(r.vmId, { desired: 'stopped' });
        const driver = this.driver(r.runtime);
        if (op === 'shutdown') await driver.stop(r.handle, plan.spec.stopTimeoutMs, signal);
        else await driver.kill(r.handle, signal);
        return this.report({ ...r, desired: 'stopped' });
      }
      case 'save': {
        const r = await this.mustRecord(plan);
        const driver = this.driver(r.runtime);
        if (plan.spec.action !== 'suspend' || !driver.capabilities.suspend || !r.handle) {
          throw new OneError(
            'E_DRIVER_UNSUPPORTED',
            `${r.runtime} workloads cannot be checkpointed (${plan.spec.action ?? 'save'}); use poweroff or undeploy`,
          );
        }
        await driver.pause(r.handle, signal);
        return this.report(r);
      }
      case 'reboot':
      case 'reset': {
        const r = await this.mustRecord(plan);
        if (!r.handle) throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no workload to reboot`);
        const handle = await this.driver(r.runtime).reboot(r.handle, op === 'reset', signal);
        const status = await this.driver(r.runtime).inspect(handle, signal);
        await this.registry.patch(r.vmId, { handle, pid: status.pid ?? null, desired: 'running' });
        return this.report({ ...r, handle, desired: 'running' });
      }
      case 'epilog':
      case 'epilog-stop':
      case 'epilog-undeploy':
      case 'cleanup':
        await this.destroy(plan.vmId, signal);
        return { vmId: plan.vmId, state: 'missing' };
      case 'migrate-live':
        throw new OneError('E_DRIVER_UNSUPPORTED', 'live migration is not supported by container runtimes');
    }
  }

  private async prolog(plan: Plan, signal: AbortSignal): Promise<WorkloadRecord> {
    this.driver(plan.spec.runtime);
    const workDir = join(this.stateDir, 'vms', String(plan.vmId));
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    if (plan.spec.image) await this.images.rootfs(plan.spec.image, signal);
    const existing = this.registry.get(plan.vmId);
    if (existing) return existing;
    const record: WorkloadRecord = {
      vmId: plan.vmId,
      runtime: plan.spec.runtime,
      workDir,
      handle: null,
      desired: 'stopped',
      pid: null,
    };
    await this.registry.put(record);
    return record;
  }

  private async boot(plan: Plan, signal: AbortSignal): Promise<WorkloadReport> {
    const record = this.registry.get(plan.vmId) ?? (await this.prolog(plan, signal));
    const driver = this.driver(record.runtime);
    let handle = record.handle;
    if (handle) {
      const status = await driver.inspect(handle, signal);
      if (status.state === 'running') {
        await this.registry.patch(record.vmId, { desired: 'running', pid: status.pid ?? null });
        return this.report({ ...record, desired: 'running' });
      }
      if (status.state === 'missing') handle = null;
    }
    if (!handle) {
      if (!plan.spec.image) throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no image to boot from`);
      const rootfs = await this.images.rootfs(plan.spec.image, signal);
      handle = await driver.create(this.workloadSpec(plan, record, rootfs), signal);
      await this.registry.patch(record.vmId, { handle });
    }
    handle = await driver.start(handle, signal);
    const status = await driver.inspect(handle, signal);
    await this.registry.patch(record.vmId, { handle, desired: 'running', pid: status.pid ?? null });
    return { vmId: plan.vmId, state: status.state, ...(status.pid !== undefined ? { pid: status.pid } : {}) };
  }

  private workloadSpec(plan: Plan, record: WorkloadRecord, rootfs: string): WorkloadSpec {
    return {
      vmId: plan.vmId,
      name: plan.spec.name,
      workDir: join(record.workDir, 'workload'),
      rootfs,
      cpu: plan.spec.cpu,
      vcpu: plan.spec.vcpu,
      memoryMb: plan.spec.memoryMb,
      ...(plan.spec.cpuSet ? { cpuSet: plan.spec.cpuSet } : {}),
      ...(plan.spec.memoryNodes ? { memoryNodes: plan.spec.memoryNodes } : {}),
      ...(plan.spec.hugepages ? { hugepages: plan.spec.hugepages } : {}),
      ...(plan.spec.command ? { command: plan.spec.command } : {}),
      env: {},
      context: plan.spec.context,
      logPath: join(record.workDir, 'console.log'),
      ...(plan.spec.machine ? { machine: machineSpecOf(plan.spec.machine) } : {}),
    };
  }

  private async destroy(vmId: number, signal: AbortSignal): Promise<void> {
    const r = this.registry.get(vmId);
    if (r) {
      await this.registry.patch(vmId, { desired: 'stopped' });
      if (r.handle) await this.driver(r.runtime).destroy(r.handle, signal);
    }
    const workDir = join(this.stateDir, 'vms', String(vmId));
    if (existsSync(workDir)) await rm(workDir, { recursive: true, force: true });
    await this.registry.remove(vmId);
  }

  private async mustRecord(plan: Plan): Promise<WorkloadRecord> {
    const r = this.registry.get(plan.vmId);
    if (!r) throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no workload on this host`);
    return r;
  }

  private driver(name: string): RuntimeDriver {
    const d = this.runtimes.get(name);
    if (!d) {
      throw new OneError(
        'E_DRIVER_UNSUPPORTED',
        `runtime ${name} is not available on this host (${[...this.runtimes.keys()].join(', ') || 'none'})`,
      );
    }
    return d;
  }

  private async report(r: WorkloadRecord): Promise<WorkloadReport> {
    if (!r.handle) return { vmId: r.vmId, state: 'missing' };
    try {
      const s = await this.driver(r.runtime).inspect(r.handle, this.abort.signal);
      return {
        vmId: r.vmId,
        state: s.state,
        ...(s.pid !== undefined ? { pid: s.pid } : {}),
        ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
      };
    } catch {
      return { vmId: r.vmId, state: 'missing' };
    }
  }

  /** Notices workloads that stopped by themselves: a cheap /proc check, then the driver's word. */
  private async checkExits(): Promise<void> {
    for (const r of this.registry.all()) {
      if (r.desired !== 'running' || this.chains.has(r.vmId)) continue;
      if (r.pid !== null && existsSync(`/proc/${r.pid}`)) continue;
      const report = await this.report(r);
      if (report.state === 'running') {
        if (report.pid !== undefined && report.pid !== r.pid) await this.registry.patch(r.vmId, { pid: report.pid });
        continue;
      }
      await this.registry.patch(r.vmId, { desired: 'stopped' });
      this.log.info({ vmId: r.vmId, state: report.state }, 'workload stopped by itself');
      await this.channel().emit({ t: 'event', vmId: r.vmId, workload: report, reason: 'exited' });
    }
  }
}

/** The driver's machine spec from a plan's (NICs as taps on the host's bridges, console, kernel command line). */
function machineSpecOf(m: PlanMachine): MachineSpec {
  return {
    ...(m.nics ? { nics: m.nics.map((n) => ({ ...n })) } : {}),
    ...(m.vnc ? { vnc: true } : {}),
    ...(m.kernelCmdline ? { kernelCmdline: m.kernelCmdline } : {}),
    ...(m.threads ? { threads: m.threads } : {}),
  };
}

/** A counting semaphore: at most `size` tasks run at once, the rest wait in order. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
