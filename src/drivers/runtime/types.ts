/**
 * The runtime-driver contract: what every workload runtime (crun containers,
 * QEMU microVMs, Firecracker, the in-memory mock) offers the agent. Drivers
 * stay dumb — no timeouts, retries or logging policy here; the agent's
 * RuntimeHost wrapper adds those (src/agent/runtime-host.ts).
 */

/** What a driver can do, as data. The agent refuses actions a driver does not declare. */
export interface RuntimeCapabilities {
  /** Driver name as templates and host monitoring name it: 'crun', 'runc', 'qemu', 'firecracker', 'mock'. */
  name: string;
  /** 'container' workloads share the host kernel; 'microvm' ones boot their own. */
  kind: 'container' | 'microvm';
  /** Graceful stop (SIGTERM / ACPI) before a kill. */
  gracefulStop: boolean;
  reboot: boolean;
  /** Pause/resume in memory (OpenNebula's suspend). */
  suspend: boolean;
  /** CPU share/quota and memory limits are enforced. */
  limits: boolean;
  /** The workload can join a given network namespace. */
  networkNamespace: boolean;
  /** stdout/stderr or serial console captured to a log file. */
  logs: boolean;
  /** A restarted agent re-attaches to running workloads from their handle. */
  reattach: boolean;
  /**
   * Disks and NICs can be added to and removed from the machine (attachDevice,
   * detachDevice, updateContext) while it runs; absent: false. Container
   * runtimes hot-plug through the agent (mounts, veths), not the driver.
   */
  machineHotplug?: boolean;
}

/** Everything a driver needs to create one workload. Paths are absolute. */
export interface WorkloadSpec {
  vmId: number;
  /** Unique, stable name on the host, e.g. `one-42`. */
  name: string;
  /** Per-workload directory the driver owns (bundle, overlay, sockets); removed by destroy. */
  workDir: string;
  /** Read-only root filesystem (an extracted image); containers mount a copy-on-write overlay on top. */
  rootfs: string;
  /** OpenNebula CPU: physical share, 0.5 = half a core. */
  cpu: number;
  vcpu: number;
  memoryMb: number;
  /** Host CPUs the workload may run on (pinning), if any. */
  cpuSet?: number[];
  /** NUMA nodes the workload's memory comes from (cpuset.mems), if any. */
  memoryNodes?: number[];
  /** Hugepages reserved for the workload, per page size (cgroup hugetlb limits). */
  hugepages?: { sizeKb: number; pages: number }[];
  /** argv of the main process; default: the image's default or `/bin/sh /context/start.sh` … (driver-defined). */
  command?: string[];
  /** Environment of the main process (CONTEXT variables are also written to context.sh). */
  env: Record<string, string>;
  /** CONTEXT variables (names upper-case), delivered inside the workload as /context/context.sh (containers). */
  context: Record<string, string>;
  /** Network namespace to join: a path like /var/run/netns/oe-h1, or 'host' / undefined for the agent's own. */
  netns?: string;
  /** Where stdout/stderr (or the serial console) go. */
  logPath: string;
  /** Extra host directories bind-mounted into a container (mounted disks), absent: none. */
  mounts?: {
    source: string;
    destination: string;
    readonly: boolean;
    /** `rslave`: later mounts under the source on the host appear inside (disk hot-plug). */
    propagation?: 'rslave';
  }[];
  /** microVM runtimes: boot files, disks, NICs and console (container runtimes ignore it). */
  machine?: MachineSpec;
}

/** A disk a microVM gets besides its root. */
export interface DiskSpec {
  /** The image file on the host. */
  path: string;
  format: 'raw' | 'qcow2';
  readOnly?: boolean;
  /** Writes go to the image itself; otherwise (default) to a per-VM copy-on-write overlay. */
  persistent?: boolean;
  /** Shown to the guest as the disk's serial (/sys/block/vdX/serial): the DISK TARGET of hot-plugged disks. */
  serial?: string;
}

/**
 * A NIC with a fixed MAC: either a tap the agent made and plugged into a
 * virtual network (`tap`; the driver only opens it), or one the driver makes
 * itself on an existing bridge of the workload's namespace (`bridge`; created
 * at start, removed at stop — for tests and tools without virtual networks).
 */
export interface NicSpec {
  tap?: string;
  bridge?: string;
  /** A vhost-user NIC: the unix socket QEMU serves for the switch to connect to (instead of tap/bridge). */
  vhostUser?: string;
  mac: string;
  mtu?: number;
}

/** What a microVM boots and what it is wired to; everything is optional (driver defaults: the guest kit). */
export interface MachineSpec {
  /** Kernel image (bzImage or ELF vmlinux) and initrd; default: the host's guest kit. */
  kernel?: string;
  initrd?: string;
  /** Appended to the kernel command line. */
  kernelCmdline?: string;
  /** The root disk as an image file; default: an ext4 disk built once per image from `rootfs`. */
  rootDisk?: DiskSpec;
  /** Boot the root disk's own bootloader on a full PC machine instead of a direct kernel boot. */
  bootFromDisk?: boolean;
  disks?: DiskSpec[];
  nics?: NicSpec[];
  /** A VNC server on a unix socket in the work dir, showing the serial console. */
  vnc?: boolean;
  /** Hardware threads per core (OpenNebula TOPOLOGY/THREADS). */
  threads?: number;
  /** Devices added after create (hot-plugged, or attached while stopped), each on its own hot-plug slot. */
  hotplug?: MachineDevice[];
}

/**
 * A disk or NIC added to a microVM after create. `id` is the caller's stable
 * name for it (`disk<DISK_ID>`, `nic<NIC_ID>`); `slot` is the hot-plug slot
 * (PCIe root port) the driver chose, kept so a restart re-creates the device
 * where it was and it can still be unplugged.
 */
export interface MachineDevice {
  id: string;
  slot?: number;
  disk?: DiskSpec;
  nic?: NicSpec;
}

/** Opaque, versioned, JSON-serialisable. The agent persists it and hands it back, even after a restart. */
export interface WorkloadHandle {
  driver: string;
  version: number;
  name: string;
  data: Record<string, unknown>;
}

export type WorkloadState = 'created' | 'running' | 'paused' | 'stopped' | 'missing';

export interface WorkloadStatus {
  state: WorkloadState;
  pid?: number;
  /** Exit code when stopped by itself. */
  exitCode?: number;
  startedAt?: number;
}

export interface WorkloadStats {
  /** Cumulative CPU time used, seconds. */
  cpuSeconds: number;
  memoryBytes: number;
  netRxBytes?: number;
  netTxBytes?: number;
  diskReadBytes?: number;
  diskWriteBytes?: number;
}

export interface ProbeResult {
  usable: boolean;
  /** Why not, when not usable (shown in host monitoring). */
  reason?: string;
  version?: string;
}

/**
 * Every method takes an AbortSignal and must be idempotent where noted, since
 * the agent replays plans after a crash: create on an existing name returns
 * the existing handle; destroy of something already gone succeeds.
 */
export interface RuntimeDriver {
  readonly capabilities: RuntimeCapabilities;
  /** Whether this runtime really works on this host (a real tiny run where cheap). */
  probe(signal: AbortSignal): Promise<ProbeResult>;
  /** Prepares the workload without starting it. Idempotent by spec.name. */
  create(spec: WorkloadSpec, signal: AbortSignal): Promise<WorkloadHandle>;
  start(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle>;
  /** Graceful stop (TERM / ACPI), then kill after timeoutMs. Idempotent. */
  stop(handle: WorkloadHandle, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Immediate hard stop. Idempotent. */
  kill(handle: WorkloadHandle, signal: AbortSignal): Promise<void>;
  /** Restart the main process (new process, same workload). Needs capabilities.reboot. */
  reboot(handle: WorkloadHandle, hard: boolean, signal: AbortSignal): Promise<WorkloadHandle>;
  /** Freeze in memory (needs capabilities.suspend; otherwise throws E_DRIVER_UNSUPPORTED). */
  pause(handle: WorkloadHandle, signal: AbortSignal): Promise<void>;
  resume(handle: WorkloadHandle, signal: AbortSignal): Promise<void>;
  /** Removes everything the workload left on the host (process, bundle, mounts, cgroups). Idempotent. */
  destroy(handle: WorkloadHandle, signal: AbortSignal): Promise<void>;
  inspect(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStatus>;
  stats(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadStats>;
  /** After an agent restart: re-attach to the workload from its handle without restarting it. */
  recover(handle: WorkloadHandle, signal: AbortSignal): Promise<WorkloadHandle>;
  /** Workloads this driver finds on the host (for wild-VM detection), by name. */
  list(signal: AbortSignal): Promise<string[]>;
  /**
   * capabilities.machineHotplug: adds a disk or NIC. On a running machine it is
   * plugged live (and the guest must accept it); either way later starts
   * include it. Idempotent by device id.
   */
  attachDevice?(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void>;
  /**
   * capabilities.machineHotplug: removes a device — by id when it was added
   * later, else a boot-time disk by path or NIC by tap (only while stopped: those
   * sit on a bus without hot-plug). Returns once the guest released it. Idempotent.
   */
  detachDevice?(handle: WorkloadHandle, device: MachineDevice, signal: AbortSignal): Promise<void>;
  /** capabilities.machineHotplug: rewrites the CONTEXT the guest reads (before a NIC comes or after it went). */
  updateContext?(handle: WorkloadHandle, context: Record<string, string>, signal: AbortSignal): Promise<void>;
}
