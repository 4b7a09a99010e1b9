/**
 * microVMs with Firecracker (needs KVM): the same inputs as the qemu driver —
 * the guest kit's uncompressed kernel and initramfs, a root drive made from
 * the image (raw: Firecracker has no qcow2, so a sparse per-VM copy of the
 * shared ext4 base), extra drives, the CONTEXT ISO as a read-only drive, NICs
 * as taps with fixed MACs — configured through Firecracker's REST API on its
 * unix socket before `InstanceStart`:
 *
 *   PUT /metrics, /machine-config, /boot-source, /drives/{id}, /network-interfaces/{id}
 *   PUT /actions {InstanceStart}         start
 *   PUT /actions {SendCtrlAltDel}        graceful stop (the guest kit powers off on Ctrl-Alt-Del)
 *   PATCH /vm {Paused|Resumed}           suspend / resume
 *   GET /                                state (re-attach, inspect)
 *
 * With `jailer` on the host, Firecracker runs under it (chroot, own uid/gid,
 * cgroups). NOT exercised for real on machines without KVM (like the CI and
 * development machines): there it is tested against a fake API server that
 * checks every request body against the published API's schemas.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { OneError } from '../../core/errors.js';
import { runCommand, sleep } from './exec.js';
import { writeContextVolume } from './qemu/context-volume.js';
import { baseDiskFor } from './qemu/disks.js';
import { ensureGuestKit, type GuestKit } from './qemu/guest-kit.js';
import { ensureTap, removeTap, tapName } from './qemu/taps.js';
import { isAlive } from './qemu-driver.js';
import type {
  ProbeResult,
  RuntimeCapabilities,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from './types.js';

export const FC_HANDLE_VERSION = 1;

export interface FirecrackerDriverOptions {
  stateRoot?: string;
  /** argv prefix that runs Firecracker (default ['firecracker']); tests put a fake here. */
  command?: string[];
  /** The jailer binary, used when it exists (default 'jailer' on PATH). */
  jailer?: string | false;
  guestKitDir?: string;
  namePrefix?: string;
  /** Skip the KVM check (tests with a fake Firecracker). */
  assumeKvm?: boolean;
}

interface FcHandleData {
  vmId: number;
  workDir: string;
  logPath: string;
  taps: { name: string; bridge: string; mtu?: number }[];
  pid?: number;
}

export class FirecrackerDriver implements RuntimeDriver {
  readonly capabilities: RuntimeCapabilities = Object.freeze({
    name: 'firecracker',
    kind: 'microvm',
    gracefulStop: true,
    // Firecracker exits when its guest reboots; OpenNebula's driver offers no reboot either.
    reboot: false,
    suspend: true,
    limits: false,
    networkNamespace: false,
    logs: true,
    reattach: true,
  });
  readonly stateRoot: string;
  private readonly command: string[];
  private readonly prefix: string;

  constructor(private readonly options: FirecrackerDriverOptions = {}) {
    this.stateRoot = options.stateRoot ?? '/var/lib/oneedge/firecracker';
    this.command = options.command ?? ['firecracker'];
    this.prefix = options.namePrefix ?? 'one-';
  }

  guestKit(): Promise<GuestKit> {
    return ensureGuestKit({ cacheRoot: this.options.guestKitDir ?? join(this.stateRoot, 'guest-kit') });
  }

  /** Usable only when the firecracker binary exists and /dev/kvm can be opened. */
  async probe(signal: AbortSignal): Promise<ProbeResult> {
    signal.throwIfAborted();
    const bin = this.command[0] as string;
    if (!(await onPath(bin))) return { usable: false, reason: `${bin} is not installed` };
    if (!this.options.assumeKvm) {
      const kvm = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
        () => true,
        () => false,
      );
      if (!kvm) return { usable: false, reason: '/dev/kvm is missing or not accessible: Firecracker needs KVM' };
    }
    try {
      await this.guestKit();
    } catch (err) {
      return { usable: false, reason: `no guest kit: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { usable: true, version: 'firecracker' };
  }

  async create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    if (!spec.name.startsWith(this.prefix) || !/^[A-Za-z0-9_.-]{1,64}$/.test(spec.name)) {
      throw new OneError('E_VALIDATION', `workload name ${JSON.stringify(spec.name)} must start with ${this.prefix}`);
    }
    if (spec.vcpu < 1 || spec.vcpu > 32) {
      throw new OneError('E_VALIDATION', `VCPU ${spec.vcpu} must be from 1 to 32 for Firecracker`, { vcpu: spec.vcpu });
    }
    if (spec.machine?.nics?.some((n) => n.vhostUser)) {
      throw new OneError(
        'E_VHOST_USER',
        'Firecracker has no vhost-user NICs (BRIDGE_TYPE=openvswitch_dpdk needs qemu)',
      );
    }
    if (spec.netns !== undefined && spec.netns !== 'host') {
      throw new OneError('E_DRIVER_UNSUPPORTED', 'firecracker workloads run in the agent’s network namespace');
    }
    const existing = await readJson<WorkloadHandle>(join(spec.workDir, 'handle.json'));
    if (existing) return existing;
    await mkdir(spec.workDir, { recursive: true, mode: 0o700 });
    const m = spec.machine ?? {};
    for (const d of [...(m.rootDisk ? [m.rootDisk] : []), ...(m.disks ?? [])]) {
      if (d.format !== 'raw')
        throw new OneError('E_VALIDATION', `Firecracker drives are raw only: ${d.path} is ${d.format}`);
    }
    const rootSource = m.rootDisk?.path ?? (await baseDiskFor(spec.rootfs, join(this.stateRoot, 'base-disks'), signal));
    if (!m.rootDisk?.persistent) {
      await runCommand(['cp', '--sparse=always', rootSource, join(spec.workDir, 'root.raw')], signal);
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
    await writeFile(join(spec.workDir, 'spec.json'), JSON.stringify(spec));
    const data: FcHandleData = {
      vmId: spec.vmId,
      workDir: spec.workDir,
      logPath: spec.logPath,
      // Taps the driver makes itself (NICs on a bridge); agent-made taps (`tap`) are only opened.
      taps: (m.nics ?? []).flatMap((n, i) =>
        n.bridge && !n.tap ? [{ name: tapName(spec.vmId, i), bridge: n.bridge, ...(n.mtu ? { mtu: n.mtu } : {}) }] : [],
      ),
    };
    const handle: WorkloadHandle = {
      driver: 'firecracker',
      version: FC_HANDLE_VERSION,
      name: spec.name,
      data: { ...data },
    };
    await writeFile(join(spec.workDir, 'handle.json.tmp'), JSON.stringify(handle));
    await rename(join(spec.workDir, 'handle.json.tmp'), join(spec.workDir, 'handle.json'));
    await mkdir(join(this.stateRoot, 'vms'), { recursive: true });
    await unlink(join(this.stateRoot, 'vms', spec.name)).catch(() => undefined);
    await symlink(spec.workDir, join(this.stateRoot, 'vms', spec.name));
    return handle;
  }

  async start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const running = await this.livePid(data);
    if (running !== undefined) return { ...handle, data: { ...handle.data, pid: running } };
    const spec = JSON.parse(await readFile(join(data.workDir, 'spec.json'), 'utf8')) as WorkloadSpec;
    for (const t of data.taps) await ensureTap(undefined, t, signal);
    const sock = this.socketPath(data);
    await rm(sock, { force: true });
    await mkdir(join(data.logPath, '..'), { recursive: true });
    await writeFile(join(data.workDir, 'started'), '');
    const pid = await this.launch(handle.name, data, signal);
    await waitFor(() => existsSync(sock), 5000, signal, `firecracker API socket of ${handle.name}`);
    for (const [method, path, body] of await this.configuration(spec, data))
      await this.api(data, method, path, body, signal);
    await this.api(data, 'PUT', '/actions', { action_type: 'InstanceStart' }, signal);
    return { ...handle, data: { ...handle.data, pid, startedAt: Date.now() } };
  }

  async stop(handle: WorkloadHandle, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid !== undefined) {
      const state = await this.state(data, signal).catch(() => undefined);
      if (state === 'Paused') await this.api(data, 'PATCH', '/vm', { state: 'Resumed' }, signal).catch(() => undefined);
      await this.api(data, 'PUT', '/actions', { action_type: 'SendCtrlAltDel' }, signal).catch(() => undefined);
      if (!(await waitExit(pid, timeoutMs, signal))) await this.killPid(pid, signal);
    }
    for (const t of data.taps) await removeTap(undefined, t.name, signal);
  }

  async kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid !== undefined) await this.killPid(pid, signal);
    for (const t of data.taps) await removeTap(undefined, t.name, signal);
  }

  async reboot(): Promise<WorkloadHandle> {
    throw new OneError('E_DRIVER_UNSUPPORTED', 'firecracker cannot reboot a microVM (poweroff and resume instead)');
  }

  async pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    await this.api(this.data(handle), 'PATCH', '/vm', { state: 'Paused' }, signal);
  }

  async resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    await this.api(this.data(handle), 'PATCH', '/vm', { state: 'Resumed' }, signal);
  }

  async destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.kill(handle, signal);
    await unlink(join(this.stateRoot, 'vms', handle.name)).catch(() => undefined);
    if (data.workDir.split('/').filter(Boolean).length < 2) {
      throw new OneError('E_DRIVER_FAILED', `refusing to remove work dir ${data.workDir}`);
    }
    await rm(data.workDir, { recursive: true, force: true });
  }

  async inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus> {
    signal.throwIfAborted();
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid !== undefined) {
      const state = await this.state(data, signal).catch(() => undefined);
      return { state: state === 'Paused' ? 'paused' : 'running', pid };
    }
    if (!existsSync(join(data.workDir, 'handle.json'))) return { state: 'missing' };
    return { state: existsSync(join(data.workDir, 'started')) ? 'stopped' : 'created' };
  }

  async stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats> {
    signal.throwIfAborted();
    const pid = await this.livePid(this.data(handle));
    if (pid === undefined) return { cpuSeconds: 0, memoryBytes: 0 };
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const statm = (await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ');
    return { cpuSeconds: (Number(f[11]) + Number(f[12])) / 100, memoryBytes: Number(statm[1]) * 4096 };
  }

  async recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    const data = this.data(handle);
    const pid = await this.livePid(data);
    if (pid === undefined) return handle;
    await this.state(data, signal);
    return { ...handle, data: { ...handle.data, pid } };
  }

  async list(signal: AbortSignal): Promise<string[]> {
    signal.throwIfAborted();
    const names = await readdir(join(this.stateRoot, 'vms')).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(this.prefix)).sort();
  }

  // ------------------------------------------------------------------ helpers

  /** The pre-boot API calls, in order, built from the workload spec. */
  async configuration(spec: WorkloadSpec, data: FcHandleData): Promise<[string, string, unknown][]> {
    const m = spec.machine ?? {};
    const kit = m.kernel ? undefined : await this.guestKit();
    const kernel = m.kernel ?? kit?.vmlinux;
    if (!kernel) throw new OneError('E_DRIVER_FAILED', 'Firecracker needs an uncompressed kernel (vmlinux)');
    const initrd = m.initrd ?? kit?.initrd;
    const threads = m.threads ?? 1;
    // The root drive is the first drive with is_root_device: Firecracker adds `root=/dev/vda rw` itself.
    const bootArgs = ['console=ttyS0', 'reboot=k', 'panic=1', 'pci=off', 'oneedge.fc=1'];
    if (m.kernelCmdline) bootArgs.push(m.kernelCmdline);
    const calls: [string, string, unknown][] = [
      ['PUT', '/metrics', { metrics_path: join(data.workDir, 'metrics.json') }],
      [
        'PUT',
        '/machine-config',
        { vcpu_count: spec.vcpu, mem_size_mib: spec.memoryMb, smt: threads > 1 && spec.vcpu % 2 === 0 },
      ],
      [
        'PUT',
        '/boot-source',
        { kernel_image_path: kernel, ...(initrd ? { initrd_path: initrd } : {}), boot_args: bootArgs.join(' ') },
      ],
      [
        'PUT',
        '/drives/rootfs',
        {
          drive_id: 'rootfs',
          path_on_host: m.rootDisk?.persistent ? m.rootDisk.path : join(data.workDir, 'root.raw'),
          is_root_device: true,
          is_read_only: false,
        },
      ],
    ];
    for (const [i, d] of (m.disks ?? []).entries()) {
      calls.push([
        'PUT',
        `/drives/disk${i}`,
        { drive_id: `disk${i}`, path_on_host: d.path, is_root_device: false, is_read_only: d.readOnly === true },
      ]);
    }
    calls.push([
      'PUT',
      '/drives/context',
      {
        drive_id: 'context',
        path_on_host: join(data.workDir, 'context.iso'),
        is_root_device: false,
        is_read_only: true,
      },
    ]);
    for (const [i, n] of (m.nics ?? []).entries()) {
      calls.push([
        'PUT',
        `/network-interfaces/eth${i}`,
        { iface_id: `eth${i}`, host_dev_name: n.tap ?? tapName(spec.vmId, i), guest_mac: n.mac },
      ]);
    }
    return calls;
  }

  /** Starts Firecracker (under the jailer when present) detached, console on the log; returns its pid. */
  private async launch(name: string, data: FcHandleData, signal: AbortSignal): Promise<number> {
    const sock = this.socketPath(data);
    const jailer = this.options.jailer === false ? undefined : (this.options.jailer ?? 'jailer');
    const useJailer = jailer !== undefined && this.options.command === undefined && (await onPath(jailer));
    const argv = useJailer
      ? [
          jailer as string,
          '--id',
          name,
          '--exec-file',
          await which('firecracker'),
          '--uid',
          '0',
          '--gid',
          '0',
          '--chroot-base-dir',
          join(data.workDir, 'jail'),
          '--',
          '--api-sock',
          sock,
        ]
      : [...this.command, '--api-sock', sock, '--id', name];
    signal.throwIfAborted();
    const out = openSync(data.logPath, 'a');
    try {
      const [cmd, ...args] = argv as [string, ...string[]];
      const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
      child.unref();
      if (!child.pid) throw new OneError('E_DRIVER_FAILED', `cannot start ${cmd}`);
      await writeFile(join(data.workDir, 'fc.pid'), String(child.pid));
      return child.pid;
    } finally {
      closeSync(out);
    }
  }

  private async state(data: FcHandleData, signal: AbortSignal): Promise<string | undefined> {
    const info = (await this.api(data, 'GET', '/', undefined, signal)) as { state?: string } | undefined;
    return info?.state;
  }

  /** One API call on the unix socket; a non-2xx answer is an error with Firecracker's fault message. */
  private api(data: FcHandleData, method: string, path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath(data),
          method,
          path,
          signal,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(text ? JSON.parse(text) : undefined);
            else {
              const fault = (() => {
                try {
                  return (JSON.parse(text) as { fault_message?: string }).fault_message;
                } catch {
                  return text;
                }
              })();
              reject(new OneError('E_DRIVER_FAILED', `firecracker ${method} ${path}: HTTP ${status}: ${fault}`));
            }
          });
        },
      );
      req.on('error', (err) =>
        reject(new OneError('E_DRIVER_FAILED', `firecracker API: ${err.message}`, {}, { cause: err })),
      );
      req.end(payload);
    });
  }

  private async killPid(pid: number, signal: AbortSignal): Promise<void> {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    if (!(await waitExit(pid, 5000, signal)))
      throw new OneError('E_DRIVER_FAILED', `firecracker ${pid} survived SIGKILL`);
  }

  private async livePid(data: FcHandleData): Promise<number | undefined> {
    const pid = Number((await readFile(join(data.workDir, 'fc.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(this.socketPath(data)) ? pid : undefined;
  }

  private socketPath(data: FcHandleData): string {
    return join(data.workDir, 'fc.sock');
  }

  private data(handle: WorkloadHandle): FcHandleData {
    if (handle.driver !== 'firecracker' || handle.version !== FC_HANDLE_VERSION) {
      throw new OneError(
        'E_DRIVER_FAILED',
        `handle ${handle.driver}/v${handle.version} is not a firecracker v1 handle`,
      );
    }
    const d = handle.data as Partial<FcHandleData>;
    if (typeof d.workDir !== 'string' || !Array.isArray(d.taps)) {
      throw new OneError('E_DRIVER_FAILED', `handle of ${handle.name} lacks its paths`);
    }
    return d as FcHandleData;
  }
}

async function onPath(bin: string): Promise<boolean> {
  if (bin.includes('/'))
    return stat(bin).then(
      () => true,
      () => false,
    );
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (
      await access(join(dir, bin), constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

async function which(bin: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, bin);
    if (
      await access(p, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  throw new OneError('E_DRIVER_FAILED', `${bin} is not installed`);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function waitExit(pid: number, ms: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25, signal);
  }
}

async function waitFor(check: () => boolean, ms: number, signal: AbortSignal, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() >= deadline) throw new OneError('E_DRIVER_FAILED', `timed out waiting for ${what}`);
    await sleep(20, signal);
  }
}
