/**
 * Containers with an OCI runtime: crun (preferred) or runc (same class,
 * another binary). Per workload, in spec.workDir:
 *
 *   config.json            OCI runtime spec, written from code
 *   handle.json            the handle create returned (makes create idempotent)
 *   context/context.sh     CONTEXT as KEY='value' lines (+ start.sh), bind-mounted ro at /context
 *   overlay/{upper,work}   copy-on-write layer over the shared image (spec.rootfs)
 *   rootfs-merged/         the overlay mount, the container's root
 *   started                marker: the workload has run once (inspect: stopped, not created)
 *
 * Cgroups live at `<cgroupParent>/<name>` (default /oneedge/<name>) in every
 * hierarchy. The container runs detached with stdout/stderr on spec.logPath.
 *
 *   create ──> created ──start──> running ──stop/kill/self-exit──> stopped ──start──> running
 *                                   │ ^                                 (overlay upper kept)
 *                             pause │ │ resume
 *                                   v │
 *                                  paused          destroy (any state) ──> missing
 *
 * Exit codes are not reported: after `run --detach` nobody waits for the
 * container's init, and wrapping every command in a shell that records `$?`
 * would change PID 1 and signal handling of the workload.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OneError } from '../../core/errors.js';
import { readCgroupLayout, readCgroupUsage, removeCgroupDirs } from './cgroups.js';
import { defaultCommand, renderContextSh, startScript } from './context-files.js';
import { sleep } from './exec.js';
import { hasExited, OciCli, type OciFlavour, type OciState } from './oci-cli.js';
import { probeOciRuntime } from './oci-probe.js';
import { buildOciConfig } from './oci-spec.js';
import { assertMountablePath, mountOverlay, mountsUnder, overlayPaths, unmountAll } from './overlay.js';
import type {
  ProbeResult,
  RuntimeCapabilities,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from './types.js';

export const OCI_HANDLE_VERSION = 1;

export interface CrunDriverOptions {
  /** Which runtime: 'crun' (default) or 'runc'; also the capability name. */
  flavour?: OciFlavour;
  /** Binary to run (default: the flavour's name, found on PATH). */
  binary?: string;
  /** The runtime's --root state directory (default /run/oneedge/<flavour>); one per driver instance. */
  stateRoot?: string;
  /** Every workload name starts with it; list shows only such names (default 'one-'). */
  namePrefix?: string;
  /** Parent cgroup of every workload (default /oneedge). */
  cgroupParent?: string;
  /** Apply the hybrid cgroup fix in probe (default: for crun only; runc does not need it). */
  applyCgroupFix?: boolean;
  /** Image for the probe container (default: built from busybox under stateRoot). */
  probeRootfs?: string;
  /** Static busybox for the probe image (default /bin/busybox). */
  busybox?: string;
  /** How often state is polled while waiting for a stop, ms (default 25). */
  pollIntervalMs?: number;
  /** Grace period of a soft reboot before KILL, ms (default 10000). */
  rebootGraceMs?: number;
  /** How long a KILLed container may take to show stopped, ms (default 5000). */
  killWaitMs?: number;
}

/** What the handle carries (JSON): enough to reach the workload from a fresh driver instance. */
interface OciHandleData {
  vmId: number;
  workDir: string;
  rootfs: string;
  logPath: string;
  cgroupsPath: string;
  pid?: number;
  startedAt?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class CrunDriver implements RuntimeDriver {
  readonly capabilities: RuntimeCapabilities;
  private readonly cli: OciCli;
  private readonly prefix: string;
  private readonly cgroupParent: string;
  private readonly pollMs: number;
  private readonly rebootGraceMs: number;
  private readonly killWaitMs: number;
  private readonly options: CrunDriverOptions;
  private probed: Promise<ProbeResult> | undefined;

  constructor(options: CrunDriverOptions = {}) {
    const flavour = options.flavour ?? 'crun';
    this.options = options;
    this.cli = new OciCli(flavour, options.binary ?? flavour, options.stateRoot ?? `/run/oneedge/${flavour}`);
    this.prefix = options.namePrefix ?? 'one-';
    this.cgroupParent = options.cgroupParent ?? '/oneedge';
    this.pollMs = options.pollIntervalMs ?? 25;
    this.rebootGraceMs = options.rebootGraceMs ?? 10_000;
    this.killWaitMs = options.killWaitMs ?? 5_000;
    this.capabilities = Object.freeze({
      name: flavour,
      kind: 'container',
      gracefulStop: true,
      reboot: true,
      suspend: true,
      limits: true,
      networkNamespace: true,
      logs: true,
      reattach: true,
    });
  }

  /** The runtime state directory this instance uses (--root). */
  get stateRoot(): string {
    return this.cli.root;
  }

  /** Cached after the first answer; an aborted probe is not cached. */
  probe(signal: AbortSignal): Promise<ProbeResult> {
    if (!this.probed) {
      const options = {
        cli: this.cli,
        applyCgroupFix: this.options.applyCgroupFix ?? this.cli.flavour === 'crun',
        cgroupParent: this.cgroupParent,
        ...(this.options.probeRootfs ? { rootfs: this.options.probeRootfs } : {}),
        ...(this.options.busybox ? { busybox: this.options.busybox } : {}),
      };
      const attempt = probeOciRuntime(options, signal);
      this.probed = attempt;
      attempt.catch(() => {
        if (this.probed === attempt) this.probed = undefined;
      });
    }
    return this.probed;
  }

  async create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle> {
    signal.throwIfAborted();
    this.validateSpec(spec);
    const existing = await this.readHandle(spec.workDir);
    if (existing) {
      if (existing.name !== spec.name) {
        throw new OneError('E_CONFLICT', `work dir ${spec.workDir} belongs to ${existing.name}`, { name: spec.name });
      }
      return existing;
    }
    await stat(spec.rootfs).catch((err: unknown) => {
      throw new OneError(
        'E_DRIVER_FAILED',
        `image root ${spec.rootfs} is missing`,
        { rootfs: spec.rootfs },
        { cause: err },
      );
    });
    const createdDir = !(await exists(spec.workDir));
    try {
      await this.writeBundle(spec);
      const handle = this.handleFor(spec);
      const tmp = join(spec.workDir, 'handle.json.tmp');
      await writeFile(tmp, JSON.stringify(handle));
      await rename(tmp, join(spec.workDir, 'handle.json'));
      return handle;
    } catch (err) {
      if (createdDir) await rm(spec.workDir, { recursive: true, force: true });
      throw err;
    }
  }

  async start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    const data = this.data(handle);
    const state = await this.cli.state(handle.name, signal);
    if (state?.status === 'running' || state?.status === 'paused') return this.withState(handle, state);
    if (state) await this.cli.delete(handle.name, signal);
    if (!(await exists(join(data.workDir, 'config.json')))) {
      throw new OneError('E_DRIVER_FAILED', `workload ${handle.name} was not created (no bundle)`, {
        workDir: data.workDir,
      });
    }
    return this.launch(handle, data, signal);
  }

  async stop(handle: WorkloadHandle, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.halt(handle.name, timeoutMs, signal);
    await this.release(handle.name, data, signal);
  }

  async kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    await this.halt(handle.name, 0, signal);
    await this.release(handle.name, data, signal);
  }

  /** A new init process in the same container root; the overlay stays mounted, so files survive. */
  async reboot(handle: WorkloadHandle, hard: boolean, signal: AbortSignal): Promise<WorkloadHandle> {
    const data = this.data(handle);
    await this.halt(handle.name, hard ? 0 : this.rebootGraceMs, signal);
    await this.cli.delete(handle.name, signal);
    return this.launch(handle, data, signal);
  }

  async pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.data(handle);
    const state = await this.cli.state(handle.name, signal);
    if (state?.status === 'paused') return;
    if (state?.status !== 'running') throw notRunning(handle.name, state);
    await this.cli.pause(handle.name, signal);
  }

  async resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    this.data(handle);
    const state = await this.cli.state(handle.name, signal);
    if (state?.status === 'running') return;
    if (state?.status !== 'paused') throw notRunning(handle.name, state);
    await this.cli.resume(handle.name, signal);
  }

  async destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void> {
    const data = this.data(handle);
    if (await this.cli.state(handle.name, signal)) await this.halt(handle.name, 0, signal);
    await this.release(handle.name, data, signal);
    const mounts = await mountsUnder(data.workDir);
    if (mounts.length > 0) {
      throw new OneError('E_DRIVER_FAILED', `cannot remove ${data.workDir}: still mounted`, { mounts });
    }
    // A handle is data from disk: never let a damaged one point the recursive delete at a top-level directory.
    if (data.workDir.split('/').filter(Boolean).length < 2) {
      throw new OneError('E_DRIVER_FAILED', `refusing to remove work dir ${data.workDir}`, { workDir: data.workDir });
    }
    await rm(data.workDir, { recursive: true, force: true });
  }

  async inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus> {
    const data = this.data(handle);
    const state = await this.cli.state(handle.name, signal);
    if (state) {
      // An init that exited but is not reaped yet (the host's PID 1 reaps it) still looks alive to the runtime.
      const exited = state.status === 'running' && state.pid > 0 && (await hasExited(state.pid));
      const status: WorkloadStatus = {
        state: exited ? 'stopped' : state.status === 'creating' ? 'created' : state.status,
      };
      if ((status.state === 'running' || status.state === 'paused') && state.pid > 0) status.pid = state.pid;
      const startedAt = state.created ? Date.parse(state.created) : Number.NaN;
      if (Number.isFinite(startedAt)) status.startedAt = startedAt;
      return status;
    }
    if (!(await exists(join(data.workDir, 'handle.json')))) return { state: 'missing' };
    return { state: (await exists(join(data.workDir, 'started'))) ? 'stopped' : 'created' };
  }

  async stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats> {
    const data = this.data(handle);
    signal.throwIfAborted();
    // Read each time (a few KB): the hybrid fix may add a hierarchy after start-up.
    return readCgroupUsage(await readCgroupLayout(), data.cgroupsPath);
  }

  /** Re-attaches without touching the container; a workload that is gone is reported by inspect, not here. */
  async recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle> {
    this.data(handle);
    const state = await this.cli.state(handle.name, signal);
    return state ? this.withState(handle, state) : handle;
  }

  async list(signal: AbortSignal): Promise<string[]> {
    const states = await this.cli.list(signal);
    return states
      .map((s) => s.id)
      .filter((id) => id.startsWith(this.prefix))
      .sort();
  }

  // ------------------------------------------------------------------ helpers

  private validateSpec(spec: WorkloadSpec): void {
    if (!NAME.test(spec.name) || !spec.name.startsWith(this.prefix)) {
      throw new OneError('E_VALIDATION', `workload name ${JSON.stringify(spec.name)} must start with ${this.prefix}`, {
        name: spec.name,
      });
    }
    assertMountablePath(spec.workDir, 'work dir');
    assertMountablePath(spec.rootfs, 'image root');
    for (const m of spec.mounts ?? []) {
      assertMountablePath(m.source, 'disk mount source');
      if (!m.destination.startsWith('/') || m.destination.split('/').includes('..')) {
        throw new OneError('E_VALIDATION', `mount destination ${JSON.stringify(m.destination)} must be absolute`, {});
      }
    }
    if (!spec.logPath.startsWith('/')) {
      throw new OneError('E_VALIDATION', `log path ${JSON.stringify(spec.logPath)} must be absolute`, {});
    }
    if (spec.netns !== undefined && spec.netns !== 'host' && !spec.netns.startsWith('/')) {
      throw new OneError('E_VALIDATION', `netns ${JSON.stringify(spec.netns)} must be 'host' or a path`, {});
    }
  }

  private async writeBundle(spec: WorkloadSpec): Promise<void> {
    const contextDir = join(spec.workDir, 'context');
    await mkdir(contextDir, { recursive: true });
    await writeFile(join(contextDir, 'context.sh'), renderContextSh(spec.context), { mode: 0o644 });
    const script = startScript(spec.context);
    if (script !== undefined) await writeFile(join(contextDir, 'start.sh'), script, { mode: 0o755 });
    const args = spec.command && spec.command.length > 0 ? spec.command : defaultCommand(script !== undefined);
    const config = buildOciConfig({
      spec,
      args,
      rootPath: overlayPaths(spec.workDir, spec.rootfs).merged,
      contextDir,
      cgroupsPath: this.cgroupsPath(spec.name),
    });
    await writeFile(join(spec.workDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  private cgroupsPath(name: string): string {
    return `${this.cgroupParent}/${name}`;
  }

  private handleFor(spec: WorkloadSpec): WorkloadHandle {
    const data: OciHandleData = {
      vmId: spec.vmId,
      workDir: spec.workDir,
      rootfs: spec.rootfs,
      logPath: spec.logPath,
      cgroupsPath: this.cgroupsPath(spec.name),
    };
    return { driver: this.capabilities.name, version: OCI_HANDLE_VERSION, name: spec.name, data: { ...data } };
  }

  private async readHandle(workDir: string): Promise<WorkloadHandle | undefined> {
    try {
      return JSON.parse(await readFile(join(workDir, 'handle.json'), 'utf8')) as WorkloadHandle;
    } catch {
      return undefined;
    }
  }

  private data(handle: WorkloadHandle): OciHandleData {
    if (handle.driver !== this.capabilities.name || handle.version !== OCI_HANDLE_VERSION) {
      throw new OneError(
        'E_DRIVER_FAILED',
        `handle ${handle.driver}/v${handle.version} is not a ${this.capabilities.name} v${OCI_HANDLE_VERSION} handle`,
        { name: handle.name },
      );
    }
    const d = handle.data as Partial<OciHandleData>;
    if (typeof d.workDir !== 'string' || typeof d.cgroupsPath !== 'string' || typeof d.rootfs !== 'string') {
      throw new OneError('E_DRIVER_FAILED', `handle of ${handle.name} lacks its paths`, { name: handle.name });
    }
    return d as OciHandleData;
  }

  private withState(handle: WorkloadHandle, state: OciState): WorkloadHandle {
    const data: Record<string, unknown> = { ...handle.data };
    if (state.pid > 0) data.pid = state.pid;
    const startedAt = state.created ? Date.parse(state.created) : Number.NaN;
    if (Number.isFinite(startedAt)) data.startedAt = startedAt;
    return { ...handle, data };
  }

  /** Mounts the overlay and runs the container detached; undoes the mount if this call made it and failed. */
  private async launch(handle: WorkloadHandle, data: OciHandleData, signal: AbortSignal): Promise<WorkloadHandle> {
    const paths = overlayPaths(data.workDir, data.rootfs);
    const wasMounted = (await mountsUnder(paths.merged)).length > 0;
    await mountOverlay(paths, signal);
    try {
      await writeFile(join(data.workDir, 'started'), '');
      const pid = await this.cli.runDetached(handle.name, data.workDir, data.logPath, signal);
      return { ...handle, data: { ...handle.data, pid, startedAt: Date.now() } };
    } catch (err) {
      const cleanup = AbortSignal.timeout(10_000);
      await this.cli.delete(handle.name, cleanup).catch(() => undefined);
      if (!wasMounted) await unmountAll(paths.merged, cleanup).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Brings the container to `stopped` (or gone): TERM and up to `graceMs`,
   * then KILL and up to killWaitMs. A paused container is thawed first, since
   * frozen tasks cannot act on any signal.
   */
  private async halt(name: string, graceMs: number, signal: AbortSignal): Promise<void> {
    let state = await this.cli.state(name, signal);
    if (state?.status === 'paused') {
      await this.cli.resume(name, signal);
      state = await this.cli.state(name, signal);
    }
    if (!state || state.status === 'stopped' || !(state.pid > 0)) return;
    const pid = state.pid;
    if (state.status === 'running' && graceMs > 0 && (await this.cli.kill(name, 'TERM', signal))) {
      if (await this.waitExited(pid, graceMs, signal)) return;
    }
    await this.cli.kill(name, 'KILL', signal);
    if (!(await this.waitExited(pid, this.killWaitMs, signal))) {
      throw new OneError('E_DRIVER_FAILED', `container ${name} still running after KILL`, { name, pid });
    }
  }

  /** Polls /proc rather than the runtime: a state call is a process spawn, a stat is not. */
  private async waitExited(pid: number, ms: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await hasExited(pid)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(this.pollMs, signal);
    }
  }

  /** After the container stopped: forget it in the runtime, unmount the overlay, drop stray cgroups. */
  private async release(name: string, data: OciHandleData, signal: AbortSignal): Promise<void> {
    await this.cli.delete(name, signal);
    await unmountAll(overlayPaths(data.workDir, data.rootfs).merged, signal);
    const stuck = await removeCgroupDirs(await readCgroupLayout(), data.cgroupsPath);
    if (stuck.length > 0) {
      throw new OneError('E_DRIVER_FAILED', `cgroups of ${name} are still in use`, { cgroups: stuck });
    }
  }
}

function notRunning(name: string, state: OciState | undefined): OneError {
  return new OneError('E_DRIVER_FAILED', `container ${name} is ${state?.status ?? 'not running'}`, {
    name,
    state: state?.status ?? 'missing',
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** runc as a fallback where crun is missing: the same driver with the runc binary. */
export function createRuncDriver(options: Omit<CrunDriverOptions, 'flavour'> = {}): CrunDriver {
  return new CrunDriver({ ...options, flavour: 'runc' });
}
