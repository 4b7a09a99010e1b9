/**
 * microVMs with QEMU: `-M microvm` (virtio-mmio, direct kernel boot of the
 * guest kit) or q35 for disks with their own bootloader; KVM when a probe
 * boot proves it works, TCG otherwise. Per workload, in spec.workDir:
 *
 *   handle.json     the handle create returned (makes create idempotent)
 *   root.qcow2      copy-on-write overlay over the image's shared ext4 base disk
 *   disk-N.qcow2    overlays of extra non-persistent disks
 *   context.iso     the CONTEXT volume (context.sh, env, command, files)
 *   qmp.sock        QMP; every control action and re-attach goes through it
 *   qemu.pid        the daemonized QEMU's pid (-daemonize -pidfile)
 *   vnc.sock        VNC server (with machine.vnc), the serial console in text
 *   started         marker: the workload has run once (inspect: stopped, not created)
 *
 * QEMU runs daemonized in its own session, so it outlives the agent
 * (`kill -9` of the agent leaves VMs running); a new agent re-attaches
 * through the pid file and QMP. `<stateRoot>/vms/<name>` points at the work
 * dir so `list` can see workloads without an agent registry.
 *
 *   create ──> created ──start──> running ──stop (ACPI)/kill/guest poweroff──> stopped ──start──> running
 *                                  │ ^                                       (disks kept)
 *                        pause(stop)│ │resume(cont)
 *                                  v │
 *                                 paused              destroy (any state) ──> missing
 *
 * Reboot is a new QEMU process (soft: ACPI power-off first), so a reboot
 * always gives a fresh machine, and `-no-reboot` turns a guest's own reboot
 * or panic into a clean exit instead of a loop.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OneError } from '../../core/errors.js';
import { runCommand, sleep } from './exec.js';
import { writeContextVolume } from './qemu/context-volume.js';
import { baseDiskFor, createOverlay } from './qemu/disks.js';
import { ensureGuestKit, type GuestKit } from './qemu/guest-kit.js';
import { EXIT_MARK, READY_MARK } from './qemu/guest-scripts.js';
import {
  attachDevice,
  detachDevice,
  HOTPLUG_SLOTS,
  type LiveMachine,
  reserveContextRoom,
  rewriteContext,
} from './qemu/hotplug.js';
import { hostTscKhz, probeQemu, type QemuProbe } from './qemu/probe.js';
import { type Accel, kernelCmdline, type QemuDisk, type QemuNic, qemuArgv } from './qemu/qemu-args.js';
import { QmpError, qmp, qmpOne } from './qemu/qmp.js';
import { ensureTap, inNetns, removeTap, tapName } from './qemu/taps.js';
import type {
  MachineDevice,
  ProbeResult,
  RuntimeCapabilities,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from './types.js';

export const QEMU_HANDLE_VERSION = 1;

export interface QemuDriverOptions {
  /** Driver state: base disks, the guest kit cache, the workload index (default /var/lib/oneedge/qemu). */
  stateRoot?: string;
  binary?: string;
  /** Where guest kits are cached (default <stateRoot>/guest-kit). */
  guestKitDir?: string;
  /** Unpacked kernel package root for the guest kit (default '/'). */
  kernelRoot?: string;
  /** Every workload name starts with it (default 'one-'). */
  namePrefix?: string;
  /** Try KVM in the probe (default true); the probe decides. */
  tryKvm?: boolean;
  /** Force the accelerator instead of probing (tests). */
  accel?: Accel;
  /** How often the ACPI power button is pressed again during a graceful stop, ms (default 400). */
  powerdownRepeatMs?: number;
  /** Grace period of a soft reboot, ms (default 10000). */
  rebootGraceMs?: number;
  /** How long start waits for a guest-kit guest to report ONEEDGE-READY on its console, ms (default 25000). */
  readyTimeoutMs?: number;
  /** Empty PCIe root ports per VM for disk/NIC hot-plug (default HOTPLUG_SLOTS; 0: none, microvm without PCI). */
  hotplugSlots?: number;
}

interface QemuHandleData {
  vmId: number;
  workDir: string;
  logPath: string;
  netns?: string;
  taps: { name: string; bridge: string; mtu?: number }[];
  vnc: boolean;
  pid?: number;
  startedAt?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const POLL_MS = 25;
/** Debian's cloud kernel runs out of memory while booting in 64 MiB; 96 MiB boots. */
export const MIN_MEMORY_MB = 96;

export class QemuDriver implements RuntimeDriver {
  readonly capabilities: RuntimeCapabilities = Object.freeze({
    name: 'qemu',
    kind: 'microvm',
    gracefulStop: true,
    reboot: true,
    suspend: true,
    // The guest's RAM and vCPU count bound it, but no host CPU share/quota is applied.
    limits: false,
    networkNamespace: true,
    logs: true,
    reattach: true,
    machineHotplug: true,
  });
  readonly stateRoot: string;
  private readonly binary: string;
  private readonly prefix: string;
  private readonly options: QemuDriverOptions;
  private probed: Promise<QemuProbe> | undefined;
  private tscKhz: number | undefined;

  constructor(options: QemuDriverOptions = {}) {
    this.options = options;
    this.stateRoot = options.stateRoot ?? '/var/lib/oneedge/qemu';
    this.binary = options.binary ?? 'qemu-system-x86_64';
    this.prefix = options.namePrefix ?? 'one-';
  }

  /** The guest kit this driver boots by default (built on first use, cached by content). */
  guestKit(): Promise<GuestKit> {
    return ensureGuestKit({
      cacheRoot: this.options.guestKitDir ?? join(this.stateRoot, 'guest-kit'),
      ...(this.options.kernelRoot ? { kernelRoot: this.options.kernelRoot } : {}),
    });
  }

  /** The full probe answer (accelerator, KVM verdict, boot time); cached once it succeeded. */
  probeDetails(signal: AbortSignal): Promise<QemuProbe> {
    if (!this.probed) {
      const attempt = probeQemu(this.binary, () => this.guestKit(), { tryKvm: this.options.tryKvm ?? true }, signal);
      this.probed = attempt;
      attempt.catch(() => {
        if (this.probed === attempt) this.probed = undefined;
      });
    }
    return this.probed;
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const p = await this.probeDetails(signal);
    const result: ProbeResult = { usable: p.usable };
    if (p.reason) result.reason = p.reason;
    if (p.version) result.version = p.version;
    return result;
  }

  async create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    this.validate(spec);
    const existing = await readHandle(spec.workDir);
    if (existing) {
      if (existing.name !== spec.name) {
        throw new OneError('E_CONFLICT', `work dir ${spec.workDir} belongs to ${existing.name}`, { name: spec.name });
      }
      return existing;
    }
    const createdDir = !existsSync(spec.workDir);
    await mkdir(spec.workDir, { recursive: true, mode: 0o700 });
    try {
      const m = spec.machine ?? {};
      // Root disk: an overlay over the given image file, or over the ext4 base made from the rootfs.
      if (m.rootDisk) {
        if (m.rootDisk.persistent) await writeFile(join(spec.workDir, 'root.path'), m.rootDisk.path);
        else await createOverlay(m.rootDisk.path, m.rootDisk.format, join(spec.workDir, 'root.qcow2'), signal);
      } else {
        await stat(spec.rootfs).catch((err: unknown) => {
          throw new OneError(
            'E_DRIVER_FAILED',
            `image root ${spec.rootfs} is missing`,
            { rootfs: spec.rootfs },
            { cause: err },
          );
        });
        const base = await baseDiskFor(spec.rootfs, join(this.stateRoot, 'base-disks'), signal);
        await createOverlay(base, 'raw', join(spec.workDir, 'root.qcow2'), signal);
      }
      for (const [i, d] of (m.disks ?? []).entries()) {
        if (!d.persistent && !d.readOnly)
          await createOverlay(d.path, d.format, join(spec.workDir, `disk-${i}.qcow2`), signal);
      }
      await writeContextVolume(
        {
          context: { VMID: String(spec.vmId), ...spec.context },
          env: spec.env,
          ...(spec.command ? { command: spec.command } : {}),
        },
        join(spec.workDir, 'context'),
        join(spec.workDir, 'context.iso'),
        signal,
      );
      await reserveContextRoom(join(spec.workDir, 'context.iso'));
      await writeFile(join(spec.workDir, 'spec.json'), JSON.stringify(spec));
      const data: QemuHandleData = {
        vmId: spec.vmId,
        workDir: spec.workDir,
        logPath: spec.logPath,
        ...(spec.netns && spec.netns !== 'host' ? { netns: spec.netns } : {}),
        // Taps the driver makes itself (NICs on a bridge); agent-made taps (`tap`) are only opened.
        taps: (m.nics ?? []).flatMap((n, i) =>
          n.bridge && !n.tap && !n.vhostUser
            ? [{ name: tapName(spec.vmId, i), bridge: n.bridge, ...(n.mtu ? { mtu: n.mtu } : {}) }]
            : [],
        ),
        vnc: m.vnc === true,
      };
      const handle: WorkloadHandle = {
        driver: 'qemu',
        version: QEMU_HANDLE_VERSION,
        name: spec.name,
        data: { ...data },
      };
      await writeAtomic(join(spec.workDir, 'handle.json'), JSON.stringify(handle));
      await mkdir(join(this.stateRoot, 'vms'), { recursive: true });
      await unlink(this.indexPath(spec.name)).catch(() => undefined);
      await symlink(spec.workDir, this.indexPath(spec.name));
      return handle;
    } catch (err) {
      if (createdDir) await rm(spec.workDir, { recursive: true, force: true });
      throw err;
    }
  }

  async start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid !== undefined) return this.withPid(handle, pid);
    const specPath = join(data.workDir, 'spec.json');
    if (!existsSync(specPath)) {
      throw new OneError('E_DRIVER_FAILED', `workload ${handle.name} was not created (no spec)`, {
        workDir: data.workDir,
      });
    }
    const spec = JSON.parse(await readFile(specPath, 'utf8')) as WorkloadSpec;
    const probe = await this.probeDetails(signal);
    if (!probe.usable) throw new OneError('E_DRIVER_FAILED', `qemu is not usable: ${probe.reason ?? 'probe failed'}`);
    const accel = this.options.accel ?? probe.accel ?? 'tcg';
    this.tscKhz ??= await hostTscKhz();
    const argv = await this.argv(spec, data, accel);
    for (const t of data.taps) await ensureTap(data.netns, t, signal);
    await rm(join(data.workDir, 'qemu.pid'), { force: true });
    await rm(join(data.workDir, 'qmp.sock'), { force: true });
    await rm(join(data.workDir, 'vnc.sock'), { force: true });
    await mkdir(join(data.logPath, '..'), { recursive: true });
    await writeFile(join(data.workDir, 'started'), '');
    const logOffset = await stat(data.logPath).then(
      (s) => s.size,
      () => 0,
    );
    try {
      await runCommand([...inNetns(data.netns), ...argv], signal);
    } catch (err) {
      await this.removeTaps(data, AbortSignal.timeout(10_000)).catch(() => undefined);
      throw err;
    }
    const newPid = await this.livePid(data);
    if (newPid === undefined) throw new OneError('E_DRIVER_FAILED', `qemu for ${handle.name} exited at start`);
    if (spec.cpuSet && spec.cpuSet.length > 0) await this.pin(data, newPid, spec.cpuSet, signal);
    const m = spec.machine ?? {};
    // The guest kit reports readiness; a kernel from an image with an initrd is taken for the kit's (a
    // foreign initrd just makes start wait readyTimeoutMs; the VM runs either way).
    if (!m.bootFromDisk && (!m.kernel || m.initrd)) await this.waitReady(data, newPid, logOffset, signal);
    return { ...handle, data: { ...handle.data, pid: newPid, startedAt: Date.now() } };
  }

  async stop(handle: WorkloadHandle, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.halt(data, timeoutMs, signal);
    await this.removeTaps(data, signal);
  }

  async kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.halt(data, 0, signal);
    await this.removeTaps(data, signal);
  }

  async reboot(handle: WorkloadHandle, hard: boolean, signal: AbortSignal): Promise<WorkloadHandle> {
    const data = this.data(handle);
    await this.halt(data, hard ? 0 : (this.options.rebootGraceMs ?? 10_000), signal);
    return this.start(handle, signal);
  }

  async pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    if ((await this.livePid(data)) === undefined) throw notRunning(handle.name);
    await qmpOne(this.qmpPath(data), 'stop', signal);
  }

  async resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    if ((await this.livePid(data)) === undefined) throw notRunning(handle.name);
    await qmpOne(this.qmpPath(data), 'cont', signal);
  }

  async destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.halt(data, 0, signal);
    await this.removeTaps(data, signal);
    await unlink(this.indexPath(handle.name)).catch(() => undefined);
    // A handle is data from disk: never let a damaged one point the recursive delete at a top-level directory.
    if (data.workDir.split('/').filter(Boolean).length < 2) {
      throw new OneError('E_DRIVER_FAILED', `refusing to remove work dir ${data.workDir}`, { workDir: data.workDir });
    }
    await rm(data.workDir, { recursive: true, force: true });
  }

  async inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid !== undefined) {
      let state: WorkloadStatus['state'] = 'running';
      try {
        const status = (await qmpOne(this.qmpPath(data), 'query-status', signal)) as { status?: string };
        if (status.status === 'paused' || status.status === 'suspended') state = 'paused';
      } catch (err) {
        if (signal.aborted) throw err;
        // QMP not up yet or the process is just exiting: the pid decides.
      }
      const out: WorkloadStatus = { state, pid };
      const startedAt = handle.data.startedAt;
      if (typeof startedAt === 'number') out.startedAt = startedAt;
      return out;
    }
    if (!existsSync(join(data.workDir, 'handle.json'))) return { state: 'missing' };
    if (!existsSync(join(data.workDir, 'started'))) return { state: 'created' };
    const out: WorkloadStatus = { state: 'stopped' };
    const code = await lastExitCode(data.logPath);
    if (code !== undefined) out.exitCode = code;
    return out;
  }

  async stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid === undefined) return { cpuSeconds: 0, memoryBytes: 0 };
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const statm = (await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ');
    return { cpuSeconds: ticks / 100, memoryBytes: Number(statm[1]) * 4096 };
  }

  async recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid === undefined) return handle;
    // Proves the VM answers on its control socket (the re-attach), not just that a pid exists.
    await qmpOne(this.qmpPath(data), 'query-status', signal);
    return this.withPid(handle, pid);
  }

  async list(signal: AbortSignal): Promise<string[]> {
    signal.throwIfAborted();
    const names = await readdir(join(this.stateRoot, 'vms')).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(this.prefix)).sort();
  }

  /** Adds a disk or NIC (qemu/hotplug.ts): live on a hot-plug slot when running, at the next start otherwise. */
  async attachDevice(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void> {
    await attachDevice(await this.live(handle), device, signal);
  }

  async detachDevice(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void> {
    await detachDevice(await this.live(handle), device, signal);
  }

  async updateContext(handle: WorkloadHandle, context: Record<string, string>, signal: AbortSignal): Promise<void> {
    await rewriteContext(await this.live(handle), context, signal);
  }

  private async live(handle: WorkloadHandle): Promise<LiveMachine> {
    const data = this.data(handle);
    return {
      workDir: data.workDir,
      qmpSocket: this.qmpPath(data),
      pid: await this.livePid(data),
      slots: this.options.hotplugSlots ?? HOTPLUG_SLOTS,
    };
  }

  /** The VNC socket of a running VM with machine.vnc, if any. */
  vncSocket(handle: WorkloadHandle): string | undefined {
    const data = this.data(handle);
    return data.vnc ? join(data.workDir, 'vnc.sock') : undefined;
  }

  // ------------------------------------------------------------------ helpers

  private validate(spec: WorkloadSpec): void {
    if (!NAME.test(spec.name) || !spec.name.startsWith(this.prefix)) {
      throw new OneError('E_VALIDATION', `workload name ${JSON.stringify(spec.name)} must start with ${this.prefix}`, {
        name: spec.name,
      });
    }
    for (const [what, path] of [
      ['work dir', spec.workDir],
      ['log path', spec.logPath],
    ] as const) {
      if (!path.startsWith('/') || /[,\s]/.test(path)) {
        throw new OneError(
          'E_VALIDATION',
          `${what} ${JSON.stringify(path)} must be absolute, without commas or spaces`,
          {},
        );
      }
    }
    if (spec.netns !== undefined && spec.netns !== 'host' && !spec.netns.startsWith('/')) {
      throw new OneError('E_VALIDATION', `netns ${JSON.stringify(spec.netns)} must be 'host' or a path`, {});
    }
    if (!Number.isInteger(spec.vcpu) || spec.vcpu < 1 || spec.vcpu > 64) {
      throw new OneError('E_VALIDATION', `VCPU ${spec.vcpu} must be an integer from 1 to 64`, { vcpu: spec.vcpu });
    }
    if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < MIN_MEMORY_MB) {
      throw new OneError(
        'E_VALIDATION',
        `MEMORY ${spec.memoryMb} MB is too small for a microVM (at least ${MIN_MEMORY_MB})`,
        {
          memoryMb: spec.memoryMb,
        },
      );
    }
    const m = spec.machine ?? {};
    for (const [i, n] of (m.nics ?? []).entries()) {
      if (!MAC.test(n.mac)) throw new OneError('E_VALIDATION', `NIC ${i}: MAC ${JSON.stringify(n.mac)} is invalid`, {});
      if (n.vhostUser !== undefined) {
        if (
          n.tap !== undefined ||
          n.bridge !== undefined ||
          !n.vhostUser.startsWith('/') ||
          /[,\s]/.test(n.vhostUser)
        ) {
          throw new OneError(
            'E_VALIDATION',
            `NIC ${i}: a vhost-user socket must be an absolute path without commas or spaces, and alone (no tap or bridge)`,
            {},
          );
        }
        continue;
      }
      if ((n.tap === undefined) === (n.bridge === undefined)) {
        throw new OneError('E_VALIDATION', `NIC ${i}: give either a tap or a bridge`, {});
      }
      const ifname = n.tap ?? n.bridge ?? '';
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) {
        throw new OneError('E_VALIDATION', `NIC ${i}: ${JSON.stringify(ifname)} is not an interface name`, {});
      }
    }
    for (const d of [...(m.disks ?? []), ...(m.rootDisk ? [m.rootDisk] : [])]) {
      if (!d.path.startsWith('/') || /[,\s]/.test(d.path)) {
        throw new OneError(
          'E_VALIDATION',
          `disk ${JSON.stringify(d.path)} must be absolute, without commas or spaces`,
          {},
        );
      }
    }
  }

  private async argv(spec: WorkloadSpec, data: QemuHandleData, accel: Accel): Promise<string[]> {
    const m = spec.machine ?? {};
    const w = data.workDir;
    const disks: QemuDisk[] = [];
    const rootPath = existsSync(join(w, 'root.path'))
      ? (await readFile(join(w, 'root.path'), 'utf8')).trim()
      : undefined;
    disks.push(
      rootPath
        ? { id: 'root', file: rootPath, format: m.rootDisk?.format ?? 'raw', readOnly: false }
        : { id: 'root', file: join(w, 'root.qcow2'), format: 'qcow2', readOnly: false },
    );
    for (const [i, d] of (m.disks ?? []).entries()) {
      disks.push(
        d.persistent || d.readOnly
          ? { id: `disk${i}`, file: d.path, format: d.format, readOnly: d.readOnly === true }
          : { id: `disk${i}`, file: join(w, `disk-${i}.qcow2`), format: 'qcow2', readOnly: false },
      );
    }
    disks.push({ id: 'context', file: join(w, 'context.iso'), format: 'raw', readOnly: true });
    const nics: QemuNic[] = (m.nics ?? []).map((n, i) => ({
      id: `net${i}`,
      tap: n.tap ?? tapName(spec.vmId, i),
      mac: n.mac.toLowerCase(),
      ...(n.vhostUser ? { vhostUser: n.vhostUser } : {}),
    }));
    const direct = !m.bootFromDisk;
    let kernel = m.kernel;
    let initrd = m.initrd;
    if (direct && !kernel) {
      const kit = await this.guestKit();
      kernel = kit.vmlinux ?? kit.kernel;
      initrd ??= kit.initrd;
    }
    const vncSocket = data.vnc ? join(w, 'vnc.sock') : undefined;
    const launch = {
      binary: this.binary,
      name: spec.name,
      accel,
      ...(this.tscKhz ? { tscKhz: this.tscKhz } : {}),
      machine: direct ? ('microvm' as const) : ('q35' as const),
      vcpu: spec.vcpu,
      threads: m.threads ?? 1,
      memoryMb: spec.memoryMb,
      ...(spec.memoryNodes && spec.memoryNodes.length > 0 ? { memoryNodes: spec.memoryNodes } : {}),
      ...(direct && kernel ? { kernel } : {}),
      ...(direct && initrd ? { initrd } : {}),
      cmdline: [] as string[],
      disks,
      nics,
      logPath: data.logPath,
      qmpSocket: this.qmpPath(data),
      pidFile: join(w, 'qemu.pid'),
      ...(vncSocket ? { vncSocket } : {}),
      hotplugSlots: this.options.hotplugSlots ?? HOTPLUG_SLOTS,
      ...(m.hotplug && m.hotplug.length > 0 ? { hotplug: m.hotplug } : {}),
    };
    const extra = ['root=/dev/vda', ...(m.kernelCmdline ? m.kernelCmdline.split(/\s+/).filter(Boolean) : [])];
    launch.cmdline = kernelCmdline(launch, extra);
    return qemuArgv(launch);
  }

  /**
   * Waits until the guest kit prints ONEEDGE-READY after `offset` in the
   * console log (context applied, START_SCRIPT done), QEMU exits, or the
   * timeout passes — so `running` means a booted guest, not a starting
   * emulator. A timeout is not an error: the VM runs; monitoring shows it.
   */
  private async waitReady(data: QemuHandleData, pid: number, offset: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 25_000);
    while (Date.now() < deadline && isAlive(pid)) {
      if ((await readFrom(data.logPath, offset)).includes(READY_MARK)) return;
      await sleep(50, signal);
    }
  }

  /** vCPU threads one to one onto the given CPUs (round robin), every other thread onto the whole set. */
  private async pin(data: QemuHandleData, pid: number, cpus: number[], signal: AbortSignal): Promise<void> {
    await runCommand(['taskset', '-a', '-p', '-c', cpus.join(','), String(pid)], signal);
    const vcpus = (await qmpOne(this.qmpPath(data), 'query-cpus-fast', signal)) as {
      'cpu-index': number;
      'thread-id': number;
    }[];
    for (const v of vcpus) {
      const cpu = cpus[v['cpu-index'] % cpus.length] as number;
      await runCommand(['taskset', '-p', '-c', String(cpu), String(v['thread-id'])], signal);
    }
  }

  /**
   * Brings QEMU down: with graceMs > 0 the ACPI power button, pressed again
   * every powerdownRepeatMs (a guest still booting has no acpid yet), then
   * `quit`, then SIGKILL. A paused VM is continued first (a stopped CPU
   * cannot handle the button).
   */
  private async halt(data: QemuHandleData, graceMs: number, signal: AbortSignal): Promise<void> {
    const pid = await this.livePid(data);
    if (pid === undefined) return;
    const sock = this.qmpPath(data);
    if (graceMs > 0) {
      const deadline = Date.now() + graceMs;
      const repeat = this.options.powerdownRepeatMs ?? 400;
      try {
        const status = (await qmpOne(sock, 'query-status', signal)) as { status?: string };
        if (status.status === 'paused') await qmpOne(sock, 'cont', signal);
        while (Date.now() < deadline) {
          await qmpOne(sock, 'system_powerdown', signal);
          if (await waitExit(pid, Math.min(repeat, deadline - Date.now()), signal)) return;
        }
      } catch (err) {
        if (signal.aborted) throw err;
        if (!(err instanceof QmpError) && (await waitExit(pid, 0, signal))) return;
      }
    }
    await qmp(sock, [{ execute: 'quit' }], signal).catch(() => undefined);
    if (await waitExit(pid, 2000, signal)) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (!(await waitExit(pid, 5000, signal))) {
      throw new OneError('E_DRIVER_FAILED', `qemu ${pid} still running after SIGKILL`, { pid });
    }
  }

  private async removeTaps(data: QemuHandleData, signal: AbortSignal): Promise<void> {
    for (const t of data.taps) await removeTap(data.netns, t.name, signal);
  }

  /** The pid in qemu.pid when that process is alive and is this VM's QEMU (not a recycled pid). */
  private async livePid(data: QemuHandleData): Promise<number | undefined> {
    const text = await readFile(join(data.workDir, 'qemu.pid'), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(join(data.workDir, 'qemu.pid')) ? pid : undefined;
  }

  private qmpPath(data: QemuHandleData): string {
    return join(data.workDir, 'qmp.sock');
  }

  private indexPath(name: string): string {
    return join(this.stateRoot, 'vms', name);
  }

  private withPid(handle: WorkloadHandle, pid: number): WorkloadHandle {
    return { ...handle, data: { ...handle.data, pid } };
  }

  private data(handle: WorkloadHandle): QemuHandleData {
    if (handle.driver !== 'qemu' || handle.version !== QEMU_HANDLE_VERSION) {
      throw new OneError('E_DRIVER_FAILED', `handle ${handle.driver}/v${handle.version} is not a qemu v1 handle`, {
        name: handle.name,
      });
    }
    const d = handle.data as Partial<QemuHandleData>;
    if (typeof d.workDir !== 'string' || typeof d.logPath !== 'string' || !Array.isArray(d.taps)) {
      throw new OneError('E_DRIVER_FAILED', `handle of ${handle.name} lacks its paths`, { name: handle.name });
    }
    return d as QemuHandleData;
  }
}

function notRunning(name: string): OneError {
  return new OneError('E_DRIVER_FAILED', `VM ${name} is not running`, { name });
}

/** Alive and not a zombie (a daemonized QEMU is reaped by the host's init, maybe late). */
export function isAlive(pid: number): boolean {
  try {
    // Synchronous on purpose: /proc reads do not block, and callers poll.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitExit(pid: number, ms: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS, signal);
  }
}

/** The code of the last `ONEEDGE-EXIT <code>` console line (a workload command that exited). */
async function lastExitCode(logPath: string): Promise<number | undefined> {
  const text = await tail(logPath, 65536);
  const at = text.lastIndexOf(EXIT_MARK);
  if (at < 0) return undefined;
  const m = /^ONEEDGE-EXIT (\d+)/.exec(text.slice(at));
  return m ? Number(m[1]) : undefined;
}

async function readHandle(workDir: string): Promise<WorkloadHandle | undefined> {
  try {
    return JSON.parse(await readFile(join(workDir, 'handle.json'), 'utf8')) as WorkloadHandle;
  } catch {
    return undefined;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** A file's text from byte `offset` on ('' when it does not exist). */
async function readFrom(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last `bytes` of a file as text ('' when it does not exist). */
async function tail(path: string, bytes: number): Promise<string> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}
