/**
 * The agent channel protocol: JSON text frames on a TLS WebSocket that the
 * edge host's agent opens to the front-end (`wss://<front-end>:2634/agent/v1/channel`,
 * `Authorization: Bearer <host credential>`).
 *
 *   agent                                front-end
 *     | ---- hello {protocol, inventory} ---> |   authenticate, refuse duplicates
 *     | <--- welcome {lastAgentSeq} --------- |   agent drops buffered messages ≤ lastAgentSeq,
 *     | ---- result/event {seq} (replayed) -> |   replays the rest in order
 *     | <--- plan {planId, vmId, op, spec} -- |   idempotent by planId
 *     | ---- result {seq, planId, ok} ------> |   applied once: seq must grow
 *     | <--- ack {seq} ---------------------- |   agent forgets acknowledged messages
 *
 * Heartbeats are WebSocket ping/pong frames. Every agent message that changes
 * front-end state carries a per-host sequence number that only grows (also
 * across agent restarts); the front-end persists the last one it applied and
 * drops anything at or below it, so a replayed message cannot act twice.
 */
export const AGENT_PROTOCOL_VERSION = 1;

/** The host operations plans carry: the state machine's driver ops. */
export type PlanOp =
  | 'prolog'
  | 'prolog-resume'
  | 'prolog-undeploy'
  | 'prolog-migrate'
  | 'boot'
  | 'restore'
  | 'shutdown'
  | 'cancel'
  | 'save'
  | 'reboot'
  | 'reset'
  | 'migrate-live'
  | 'epilog'
  | 'epilog-stop'
  | 'epilog-undeploy'
  | 'cleanup'
  | 'attach-nic'
  | 'detach-nic'
  | 'attach-disk'
  | 'detach-disk';

/** One security-group rule as the agent applies it (nftables) on a workload interface. */
export interface PlanSecurityRule {
  direction: 'inbound' | 'outbound';
  /** ALL, TCP, UDP, ICMP, ICMPV6. */
  protocol: string;
  /** Port ranges like "22" or "8000:8100" (TCP/UDP), empty = every port. */
  ports: string[];
  /** Source (inbound) or destination (outbound) networks in CIDR form, empty = anywhere. */
  cidrs: string[];
  icmpType?: number;
}

/**
 * One NIC of a workload, runtime-neutral: containers get a veth in their own
 * network namespace, microVMs a tap (or vhost-user port) with the same data.
 */
export interface PlanNic {
  nicId: number;
  networkId: number;
  /** Network driver: bridge, vxlan, ovswitch or 802.1Q. */
  driver: string;
  /** The host bridge the NIC joins. */
  bridge: string;
  /** VLAN tag (ovswitch, 802.1Q) or VNI (vxlan). */
  vlanId?: number;
  /** Host interface carrying tagged or tunnelled traffic (PHYDEV); default: the agent's uplink. */
  phydev?: string;
  /** ovswitch VLAN_TAGGED_ID: VLANs the NIC also carries tagged (a trunk NIC), e.g. "100,200-210". */
  vlanTagged?: string;
  mac: string;
  ips: { address: string; prefixLength: number }[];
  gateway?: string;
  mtu?: number;
  dns?: string[];
  /** VXLAN: the tunnel addresses of every other host with a NIC on this network. */
  peers?: string[];
  /** Security-group rules; absent = no filtering. */
  rules?: PlanSecurityRule[];
  /**
   * The network's BRIDGE_TYPE is openvswitch_dpdk: a microVM's NIC is a
   * vhost-user port of the DPDK switch (not a tap, so not filtered); a
   * container's is a veth on the same bridge as usual.
   */
  vhostUser?: boolean;
}

/** What the agent needs to run a VM's workload, derived from its template. */
export interface PlanSpec {
  name: string;
  runtime: string;
  /** Image the root filesystem comes from: id and content hash (sha256 of the tarball). */
  image: { id: number; sha256: string; sizeBytes: number } | null;
  cpu: number;
  vcpu: number;
  memoryMb: number;
  /** Host CPUs the workload is pinned to, and the NUMA nodes its memory comes from (pinned VMs). */
  cpuSet?: number[];
  memoryNodes?: number[];
  /** Hugepages to reserve, per page size (VMs with TOPOLOGY/HUGEPAGE_SIZE). */
  hugepages?: { sizeKb: number; pages: number }[];
  command?: string[];
  context: Record<string, string>;
  /** The action behind the op, e.g. 'suspend' for save, 'poweroff-hard' for cancel. */
  action: string | null;
  /** Graceful stop timeout, ms. */
  stopTimeoutMs: number;
  /** NICs; absent or empty = the workload shares the host's network. */
  nics?: PlanNic[];
  /**
   * Every DISK of the VM, runtime-neutral: image disks (fetched into the
   * host's cache and verified) and volatile ones (created on the host).
   * Containers mount raw filesystem disks at `/mnt/<target>`; microVMs attach
   * them as virtio-blk drives. Absent from older front-ends.
   */
  disks?: PlanDisk[];
  /** microVM runtimes (qemu, firecracker): NICs, console, kernel command line (see core/machine-spec.ts). */
  machine?: PlanMachine;
  /** attach-/detach-nic and attach-/detach-disk: which NIC_ID or DISK_ID the op is about (see core/hotplug.ts). */
  hotplug?: { nicId?: number; diskId?: number };
}

export interface PlanDisk {
  /** DISK_ID: the disk's index in the template. */
  diskId: number;
  /** The image behind the disk; null for a volatile disk. */
  imageId: number | null;
  sha256: string | null;
  sizeBytes: number;
  /** raw | qcow2 | rootfs-tar | iso (image content), or the volatile disk's format. */
  format: string;
  /** Image TYPE (OS, CDROM, DATABLOCK, KERNEL, RAMDISK, CONTEXT) or the volatile TYPE (fs, swap). */
  type: string;
  /** Device name: vda, vdb, … (TARGET, else assigned in order). */
  target: string;
  /** Changes are copied back to the image at EPILOG (the VM holds it USED_PERS). */
  persistent: boolean;
  readonly: boolean;
  /** A volatile disk: size and filesystem to create on the host. */
  volatile?: { sizeMb: number; fs: string };
}

/** What a microVM boots and shows, from OS, GRAPHICS and TOPOLOGY (its NICs and disks are PlanSpec's). */
export interface PlanMachine {
  /** OS/KERNEL_DS and OS/INITRD_DS: KERNEL and RAMDISK images, fetched like disk images; absent: the host's guest kit. */
  kernel?: { id: number; sha256: string; sizeBytes: number };
  initrd?: { id: number; sha256: string; sizeBytes: number };
  /** GRAPHICS=[TYPE=VNC]: a VNC console. */
  vnc?: boolean;
  /** OS/KERNEL_CMD, appended to the kernel command line. */
  kernelCmdline?: string;
  /** TOPOLOGY/THREADS: hardware threads per core. */
  threads?: number;
}

export interface WorkloadReport {
  vmId: number;
  state: 'running' | 'stopped' | 'paused' | 'created' | 'missing';
  pid?: number;
  exitCode?: number;
}

/** One NUMA node as the agent reads it from sysfs. */
export interface NumaNodeFacts {
  id: number;
  /** Physical cores: their core id and hardware threads (thread siblings). */
  cores: { id: number; cpus: number[] }[];
  memoryKb: number;
  freeMemoryKb: number;
  hugepages: { sizeKb: number; total: number; free: number }[];
  /** Distances to every node, by node id (sysfs `distance`). */
  distance: number[];
}

export interface HostFacts {
  hostname: string;
  arch: string;
  cpus: number;
  memoryMb: number;
  agentVersion: string;
  /** Runtimes that passed their probe on this host. */
  runtimes: string[];
  /** Why each unusable runtime is unusable. */
  unusable: Record<string, string>;
  /** NUMA topology (empty when the host reports none). */
  numa?: NumaNodeFacts[];
  /** The address other hosts reach this one at (VXLAN tunnel endpoint). */
  address?: string;
  /** Network drivers that work on this host, and why the others do not. */
  networkDrivers?: string[];
  networkUnusable?: Record<string, string>;
  /** Whether microVM NICs can be vhost-user ports of a DPDK Open vSwitch here (why not: networkUnusable['vhost-user']). */
  vhostUser?: boolean;
  /** The local system datastore: the filesystem of the agent's state dir (VM dirs, image cache). */
  systemDs?: { totalMb: number; freeMb: number };
  /** Whether a KVM guest really booted here (the qemu runtime's probe); absent when qemu was not probed. */
  kvm?: boolean;
}

export type AgentMessage =
  | { t: 'hello'; protocol: number; facts: HostFacts; workloads: WorkloadReport[] }
  | {
      t: 'result';
      seq: number;
      planId: string;
      vmId: number;
      op: PlanOp;
      ok: boolean;
      error?: { code: string; message: string };
      workload?: WorkloadReport;
    }
  | { t: 'event'; seq: number; vmId: number; workload: WorkloadReport; reason: string }
  /** Answer to read-log: no sequence number, it changes nothing. */
  | { t: 'log'; reqId: string; vmId: number; data: string; truncated: boolean; error?: string }
  /** Answer to disk-saveas, after the disk was uploaded to the new image (or why not). */
  | { t: 'disk-saved'; reqId: string; vmId: number; error?: string }
  /**
   * A followed log grew (log-follow): `data` is new text, at most the credit
   * the front-end granted; the first frame of a stream carries the tail and
   * says whether older output was cut.
   */
  | { t: 'log-data'; streamId: string; data: string; truncated?: boolean }
  /** A followed log ended: the workload's log went away, the agent refused, or an error. */
  | { t: 'log-end'; streamId: string; reason: string; error?: string }
  /**
   * Push monitoring (src/core/monitoring.ts): a batch of probe records,
   * base64(gzip(JSON MonitorRecord[])). Not sequenced: only the newest record of
   * each kind matters, so nothing is replayed — the front-end drops stale ones.
   */
  | { t: 'monitor'; z: string };

export type FrontEndMessage =
  | { t: 'welcome'; protocol: number; hostId: number; lastAgentSeq: number; heartbeatMs: number }
  | { t: 'plan'; planId: string; vmId: number; op: PlanOp; spec: PlanSpec }
  | { t: 'ack'; seq: number }
  | { t: 'read-log'; reqId: string; vmId: number; maxBytes: number }
  /** The tunnel addresses of the other hosts of a network (sent when hosts join, leave or move). */
  | { t: 'net-peers'; networkId: number; peers: string[] }
  /** A running VM's NIC firewall rules changed (a security group was updated): re-apply live. */
  | { t: 'nic-rules'; vmId: number; nics: { nicId: number; rules: PlanSecurityRule[] }[] }
  /** Upload a VM's disk (as it is now) to a new image: `onevm disk-saveas`. */
  | { t: 'disk-saveas'; reqId: string; vmId: number; imageId: number; disk: PlanDisk }
  /** Open the VM's VNC console: dial back `/agent/v1/console/{sessionId}` and pipe it to the VNC socket. */
  | { t: 'console-open'; sessionId: string; vmId: number }
  /**
   * Follow a VM's console log: send its last `tail` bytes, then what is
   * appended, never more than `window` characters unacknowledged (log-credit
   * grants more as the viewer reads).
   */
  | { t: 'log-follow'; streamId: string; vmId: number; tail: number; window: number }
  | { t: 'log-credit'; streamId: string; chars: number }
  /** The viewer left: stop following and release the watch. */
  | { t: 'log-unfollow'; streamId: string }
  | { t: 'bye'; reason: string };

/** Parses one frame; returns undefined for anything that is not a known message shape. */
export function parseAgentMessage(text: string): AgentMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  switch (o.t) {
    case 'hello':
      return typeof o.protocol === 'number' && typeof o.facts === 'object' && Array.isArray(o.workloads)
        ? (o as AgentMessage)
        : undefined;
    case 'result':
      return isSeq(o.seq) && typeof o.planId === 'string' && isId(o.vmId) && typeof o.ok === 'boolean'
        ? (o as AgentMessage)
        : undefined;
    case 'event':
      return isSeq(o.seq) && isId(o.vmId) && typeof o.workload === 'object' ? (o as AgentMessage) : undefined;
    case 'monitor':
      return typeof o.z === 'string' ? (o as AgentMessage) : undefined;
    case 'log':
      return typeof o.reqId === 'string' && isId(o.vmId) && typeof o.data === 'string'
        ? (o as AgentMessage)
        : undefined;
    case 'disk-saved':
      return typeof o.reqId === 'string' && isId(o.vmId) ? (o as AgentMessage) : undefined;
    case 'log-data':
      return typeof o.streamId === 'string' && typeof o.data === 'string' ? (o as AgentMessage) : undefined;
    case 'log-end':
      return typeof o.streamId === 'string' && typeof o.reason === 'string' ? (o as AgentMessage) : undefined;
    default:
      return undefined;
  }
}

export function parseFrontEndMessage(text: string): FrontEndMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (o.t === 'welcome' && typeof o.lastAgentSeq === 'number') return o as FrontEndMessage;
  if (o.t === 'plan' && typeof o.planId === 'string' && isId(o.vmId) && typeof o.op === 'string') {
    return o as FrontEndMessage;
  }
  if (o.t === 'ack' && isSeq(o.seq)) return o as FrontEndMessage;
  if (o.t === 'read-log' && typeof o.reqId === 'string' && isId(o.vmId) && typeof o.maxBytes === 'number') {
    return o as FrontEndMessage;
  }
  if (o.t === 'net-peers' && isId(o.networkId) && Array.isArray(o.peers)) return o as FrontEndMessage;
  if (o.t === 'nic-rules' && isId(o.vmId) && Array.isArray(o.nics)) return o as FrontEndMessage;
  if (o.t === 'disk-saveas' && typeof o.reqId === 'string' && isId(o.vmId) && isId(o.imageId)) {
    return typeof o.disk === 'object' && o.disk !== null ? (o as FrontEndMessage) : undefined;
  }
  if (o.t === 'console-open' && typeof o.sessionId === 'string' && isId(o.vmId)) return o as FrontEndMessage;
  if (o.t === 'log-follow' && typeof o.streamId === 'string' && isId(o.vmId)) {
    return isId(o.tail) && isSeq(o.window) ? (o as FrontEndMessage) : undefined;
  }
  if (o.t === 'log-credit' && typeof o.streamId === 'string' && isSeq(o.chars)) return o as FrontEndMessage;
  if (o.t === 'log-unfollow' && typeof o.streamId === 'string') return o as FrontEndMessage;
  if (o.t === 'bye') return o as FrontEndMessage;
  return undefined;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Host credentials look like `oeh_<hostId>_<secret>`; the secret's SHA-256 is stored. */
export function parseHostCredential(credential: string): { hostId: number; secret: string } | undefined {
  const m = /^oeh_(\d{1,9})_([A-Za-z0-9_-]{32,128})$/.exec(credential);
  return m ? { hostId: Number(m[1]), secret: m[2] as string } : undefined;
}
