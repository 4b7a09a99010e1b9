import { existsSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FrontEndMessage, PlanOp, PlanSecurityRule, WorkloadReport } from '../core/agent-protocol.js';
import { isOneError, OneError } from '../core/errors.js';
import type { MachineSpec, RuntimeDriver, WorkloadSpec } from '../drivers/runtime/types.js';
import type { Channel } from './channel.js';
import type { DiskManager, PreparedDisk } from './disks.js';
import { Hotplugger } from './hotplug.js';
import type { ImageCache } from './image-cache.js';
import { isRootDiskCandidate, microvmMachine } from './microvm-machine.js';
import type { NetworkHost } from './network-host.js';
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
  private readonly hotplug: Hotplugger;

  constructor(
    private readonly stateDir: string,
    private readonly runtimes: Runtimes,
    private readonly registry: WorkloadRegistry,
    private readonly images: ImageCache,
    private readonly channel: () => Channel,
    private readonly log: Logger,
    private readonly network?: NetworkHost,
    private readonly disks?: DiskManager,
  ) {
    this.hotplug = new Hotplugger(registry, (name) => this.driver(name), log, network, disks);
  }

  /** sha256 of every image some workload on this host uses (the cache never evicts them). */
  imagesInUse(): Set<string> {
    const used = new Set<string>();
    for (const r of this.registry.all()) for (const sha of r.images ?? []) used.add(sha);
    return used;
  }

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

  /** Applies new NIC firewall rules to a running workload, in line with its plans. */
  applyNicRules(vmId: number, updates: { nicId: number; rules: PlanSecurityRule[] }[]): Promise<void> {
    const prev = this.chains.get(vmId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const r = this.registry.get(vmId);
      if (!r?.nics || !this.network) return;
      const byNic = new Map(updates.map((u) => [u.nicId, u.rules]));
      const nics = r.nics.nics.map((n) => (byNic.has(n.nicId) ? { ...n, rules: byNic.get(n.nicId) ?? [] } : n));
      await this.network.applyRules(vmId, nics, this.abort.signal, r.nics.kind);
      await this.registry.patch(vmId, { nics: { ...r.nics, nics } });
      this.log.info({ vmId, nics: updates.length }, 'security group rules re-applied');
    });
    const done = next.catch((err: unknown) => this.log.warn({ vmId, err: String(err) }, 'rule update failed'));
    this.chains.set(vmId, done);
    void done.finally(() => {
      if (this.chains.get(vmId) === done) this.chains.delete(vmId);
    });
    return done;
  }

  /** `disk-saveas`: uploads one of a VM's disks, as it is now, to a new image. */
  async saveDisk(msg: Extract<FrontEndMessage, { t: 'disk-saveas' }>): Promise<void> {
    if (!this.disks) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent cannot save disks');
    const workDir = join(this.stateDir, 'vms', String(msg.vmId));
    if (!this.registry.get(msg.vmId)) throw new OneError('E_DRIVER_FAILED', `VM ${msg.vmId} has no workload here`);
    await this.disks.saveAs(workDir, msg.disk, msg.imageId, this.abort.signal);
    this.log.info({ vmId: msg.vmId, diskId: msg.disk.diskId, imageId: msg.imageId }, 'disk saved as a new image');
  }

  /** Whether a plan for this VM is queued or running (its workload is in flux). */
  busy(vmId: number): boolean {
    return this.chains.has(vmId);
  }

  /** Where a VM's console log (stdout/stderr of its workload) is written on this host. */
  logPath(vmId: number): string {
    return join(this.stateDir, 'vms', String(vmId), 'console.log');
  }

  /** The last `maxBytes` of a VM's console log (stdout/stderr of its workload). */
  async readLog(vmId: number, maxBytes: number): Promise<{ data: string; truncated: boolean }> {
    const path = this.logPath(vmId);
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
      if (r.nics) this.network?.adopt(r.vmId, r.nics.nics);
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
        if (plan.spec.action?.startsWith('migrate')) await this.copyBackForMove(r, plan, signal);
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
        await this.destroy(plan.vmId, signal, op === 'cleanup' ? [] : (plan.spec.disks ?? []));
        return { vmId: plan.vmId, state: 'missing' };
      case 'migrate-live':
        throw new OneError('E_DRIVER_UNSUPPORTED', 'live migration is not supported by container runtimes');
      case 'attach-nic':
        await this.hotplug.attachNic(plan, signal);
        return undefined;
      case 'detach-nic':
        await this.hotplug.detachNic(plan, signal);
        return undefined;
      case 'attach-disk':
        await this.hotplug.attachDisk(plan, signal);
        return undefined;
      case 'detach-disk':
        await this.hotplug.detachDisk(plan, signal);
        return undefined;
    }
  }

  private async prolog(plan: Plan, signal: AbortSignal): Promise<WorkloadRecord> {
    this.driver(plan.spec.runtime);
    const workDir = join(this.stateDir, 'vms', String(plan.vmId));
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const images = [
      ...(plan.spec.image ? [plan.spec.image.sha256] : []),
      ...(plan.spec.disks ?? []).flatMap((d) => (d.sha256 ? [d.sha256] : [])),
      ...[plan.spec.machine?.kernel, plan.spec.machine?.initrd].flatMap((f) => (f ? [f.sha256] : [])),
    ];
    const existing = this.registry.get(plan.vmId);
    // Recorded before the transfer starts, so an eviction meanwhile cannot take these images.
    if (existing) await this.registry.patch(plan.vmId, { images: [...new Set(images)] });
    else {
      await this.registry.put({
        vmId: plan.vmId,
        runtime: plan.spec.runtime,
        workDir,
        handle: null,
        desired: 'stopped',
        pid: null,
        images: [...new Set(images)],
      });
    }
    if (plan.spec.image) await this.images.rootfs(plan.spec.image, signal);
    await this.stageDisks(plan, workDir, signal);
    for (const f of [plan.spec.machine?.kernel, plan.spec.machine?.initrd]) if (f) await this.images.file(f, signal);
    return this.registry.get(plan.vmId) as WorkloadRecord;
  }

  /** Fetches and stages the VM's disks (idempotent); containers get raw filesystems mounted. */
  private async stageDisks(plan: Plan, workDir: string, signal: AbortSignal): Promise<PreparedDisk[]> {
    const disks = plan.spec.disks ?? [];
    if (!this.disks || disks.length === 0) return [];
    const kind = this.driver(plan.spec.runtime).capabilities.kind;
    // Firecracker has no qcow2: its image disks are raw copies, like a container's.
    return this.disks.prepare(workDir, disks, plan.spec.runtime === 'firecracker' ? 'container' : kind, signal);
  }

  private async diskMounts(plan: Plan, record: WorkloadRecord, signal: AbortSignal) {
    if (!this.disks || this.driver(record.runtime).capabilities.kind !== 'container') return [];
    const prepared = await this.stageDisks(plan, record.workDir, signal);
    return this.disks.mountAll(record.workDir, prepared);
  }

  private async boot(plan: Plan, signal: AbortSignal): Promise<WorkloadReport> {
    const record = this.registry.get(plan.vmId) ?? (await this.prolog(plan, signal));
    const driver = this.driver(record.runtime);
    const mounts = await this.diskMounts(plan, record, signal);
    let handle = record.handle;
    if (handle) {
      const status = await driver.inspect(handle, signal);
      if (status.state === 'running') {
        await this.registry.patch(record.vmId, { desired: 'running', pid: status.pid ?? null });
        return this.report({ ...record, desired: 'running' });
      }
      if (status.state === 'missing') handle = null;
      else await this.hotplug.syncNics(plan, record, signal);
    }
    if (!handle) {
      const microvm = driver.capabilities.kind === 'microvm';
      if (!plan.spec.image && !(microvm && (plan.spec.disks ?? []).some(isRootDiskCandidate))) {
        throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no image to boot from`);
      }
      const rootfs = plan.spec.image ? await this.images.rootfs(plan.spec.image, signal) : '';
      const netns = microvm ? undefined : await this.wireNics(plan, signal);
      const machine = microvm ? await this.machine(plan, record, signal) : undefined;
      const spec = { ...this.workloadSpec(plan, record, rootfs), ...(machine ? { machine } : {}) };
      handle = await driver.create(
        { ...spec, ...(netns ? { netns } : {}), ...(mounts.length ? { mounts } : {}) },
        signal,
      );
      await this.registry.patch(record.vmId, { handle });
    }
    handle = await driver.start(handle, signal);
    const status = await driver.inspect(handle, signal);
    await this.registry.patch(record.vmId, { handle, desired: 'running', pid: status.pid ?? null });
    return { vmId: plan.vmId, state: status.state, ...(status.pid !== undefined ? { pid: status.pid } : {}) };
  }

  /**
   * A workload with NICs gets its own network namespace (one veth per NIC);
   * without NICs it keeps the host's network. Returns the namespace path.
   */
  private async wireNics(plan: Plan, signal: AbortSignal): Promise<string | undefined> {
    const nics = plan.spec.nics ?? [];
    if (nics.length === 0) return undefined;
    if (!this.network) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent has no network support');
    const path = await this.network.setup(plan.vmId, nics, signal);
    await this.registry.patch(plan.vmId, { nics: { netns: this.network.netnsName(plan.vmId), nics } });
    return path;
  }

  /** A microVM's machine: NICs as taps on their networks, staged disks, kernel and initrd images. */
  private async machine(plan: Plan, record: WorkloadRecord, signal: AbortSignal): Promise<MachineSpec> {
    const nics = plan.spec.nics ?? [];
    let taps: string[] = [];
    if (nics.length > 0) {
      if (!this.network) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent has no network support');
      const vhost = nics.find((n) => n.vhostUser);
      if (vhost && plan.spec.runtime !== 'qemu') {
        throw new OneError(
          'E_VHOST_USER',
          `NIC ${vhost.nicId}: vhost-user NICs (BRIDGE_TYPE=openvswitch_dpdk) need the qemu runtime, not ${plan.spec.runtime}`,
          { nicId: vhost.nicId },
        );
      }
      taps = await this.network.setupTaps(plan.vmId, nics, signal);
      await this.registry.patch(plan.vmId, { nics: { netns: '', nics, kind: 'tap' } });
    }
    const disks = await this.stageDisks(plan, record.workDir, signal);
    const m = plan.spec.machine;
    const kernel = m?.kernel ? await this.images.file(m.kernel, signal) : undefined;
    const initrd = m?.initrd ? await this.images.file(m.initrd, signal) : undefined;
    return microvmMachine(
      m,
      nics.map((n, i) =>
        n.vhostUser && this.network
          ? { vhostUser: this.network.vhostSocket(plan.vmId, n.nicId), mac: n.mac }
          : { tap: taps[i] as string, mac: n.mac, ...(n.mtu ? { mtu: n.mtu } : {}) },
      ),
      disks,
      { ...(kernel ? { kernel } : {}), ...(initrd ? { initrd } : {}) },
    );
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
    };
  }

  private async destroy(
    vmId: number,
    signal: AbortSignal,
    copyBack: NonNullable<Plan['spec']['disks']> = [],
  ): Promise<void> {
    const r = this.registry.get(vmId);
    if (r) {
      await this.registry.patch(vmId, { desired: 'stopped' });
      if (r.handle) await this.driver(r.runtime).destroy(r.handle, signal);
      if (r.nics && this.network) await this.network.teardown(vmId, r.nics.nics, signal, r.nics.kind);
    }
    const workDir = join(this.stateDir, 'vms', String(vmId));
    if (this.disks) {
      // Unmount first: the directory goes below, and a persistent disk must be quiet before it is read.
      await this.disks.unmountAll(workDir);
      await this.disks.copyBack(workDir, copyBack, signal);
    }
    if (existsSync(workDir)) await rm(workDir, { recursive: true, force: true });
    await this.registry.remove(vmId);
  }

  /**
   * A cold migration stopped the workload on this (source) host: persistent disks go back to
   * their images now, so the target host stages what the VM wrote, not the image as it was.
   */
  private async copyBackForMove(r: WorkloadRecord, plan: Plan, signal: AbortSignal): Promise<void> {
    const disks = (plan.spec.disks ?? []).filter((d) => d.persistent && d.imageId !== null);
    if (!this.disks || disks.length === 0) return;
    await this.disks.unmountAll(r.workDir);
    await this.disks.copyBack(r.workDir, disks, signal);
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
      // A workload that vanished altogether is the VM-state probe's to report, after its miss count.
      if (report.state === 'missing') continue;
      await this.registry.patch(r.vmId, { desired: 'stopped' });
      this.log.info({ vmId: r.vmId, state: report.state }, 'workload stopped by itself');
      await this.channel().emit({ t: 'event', vmId: r.vmId, workload: report, reason: 'exited' });
    }
  }
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
