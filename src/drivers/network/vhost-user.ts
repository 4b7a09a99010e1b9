/**
 * vhost-user NICs for microVMs on `ovswitch` networks whose BRIDGE_TYPE is
 * `openvswitch_dpdk` (OpenNebula's name). The VM's NIC is not a kernel tap:
 * QEMU serves a unix socket (`-chardev socket,server=on` + `-netdev
 * vhost-user`) and the host's ovs-vswitchd, built with DPDK, connects to it
 * as a `dpdkvhostuserclient` port of the network's netdev bridge and moves
 * frames straight between the guest's virtio rings (in shared guest memory)
 * and the bridge — no kernel in the path.
 *
 * What a host needs (all measured on our TCG-only machines, docs/networks.md):
 *   - the DPDK build of ovs-vswitchd (Debian openvswitch-switch-dpdk, installed
 *     at /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk; the agent runs
 *     that binary for its own daemons, system alternatives stay untouched);
 *   - DPDK's ring mempool driver (librte-mempool-ring23, only *recommended* by
 *     the dpdk package: without it every vhost port fails with "Failed to
 *     create memory pool … Invalid argument");
 *   - free 2 MB hugepages for DPDK's packet buffers (no hugetlbfs mount is
 *     needed: OVS runs the EAL with --in-memory, which takes them by memfd).
 * The guest's own memory is a shared memfd (no hugepages needed for it).
 */
import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeResult } from '../runtime/types.js';

/** OpenNebula's BRIDGE_TYPE of an ovswitch network whose microVM NICs are vhost-user ports. */
export { DPDK_BRIDGE_TYPE } from '../../core/vhost-user.js';
/** Where Debian's openvswitch-switch-dpdk installs the DPDK build of ovs-vswitchd. */
export const DPDK_VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk';
/** The hugepage size the probe counts (DPDK takes the default size, 2 MB on x86-64). */
export const HUGEPAGE_KB = 2048;
/**
 * DPDK memory of the agent's own ovs-vswitchd, MB: reserved at start
 * (dpdk-socket-mem) and the cap (dpdk-socket-limit). With the cap OVS sizes
 * its shared packet-buffer pool down to 32768 mbufs; measured: 68 pages
 * (136 MB) held with vhost ports in use.
 */
export const DPDK_SOCKET_MEM_MB = 32;
export const DPDK_SOCKET_LIMIT_MB = 128;
/** Free hugepage memory the probe asks for before starting DPDK: the cap plus headroom, MB. */
export const DPDK_NEED_MB = DPDK_SOCKET_LIMIT_MB + 32;
/**
 * PMD threads (which exist while vhost-user ports do) sleep up to this long
 * when idle, µs; by default they spin a whole core. Measured under TCG
 * (docs/benchmarks.md): 0 (spinning) halved guest-to-guest throughput by
 * taking a core from the guests, 10 ms cut it 3–8×, 1 ms matched taps at
 * ~3 % of a core idle.
 */
export const PMD_MAX_SLEEP_US = 1000;

/** The OVS port of a microVM's vhost-user NIC: the same name a tap or veth of that NIC would have. */
export const vhostPortName = (vmId: number, nicId: number) => `oe${vmId}n${nicId}`;

/** external_ids mark of vhost-user ports (they are not kernel links, so no stale-link sweep touches them). */
export const VHOST_KEY = 'oneedge-vhost';

/** Unix socket paths are at most 107 bytes (sun_path). */
export const MAX_SOCKET_PATH = 107;

/** The socket QEMU serves for one NIC, under the agent's vhost-user directory. */
export function vhostSocketPath(dir: string, vmId: number, nicId: number): string {
  return join(dir, `vm${vmId}-nic${nicId}.sock`);
}

/** `other_config` settings of a DPDK-enabled vswitchd (`dpdk-init=try`: a failing EAL leaves plain OVS working). */
export function dpdkOtherConfig(): string[] {
  return [
    'other_config:dpdk-init=try',
    `other_config:dpdk-socket-mem=${DPDK_SOCKET_MEM_MB}`,
    `other_config:dpdk-socket-limit=${DPDK_SOCKET_LIMIT_MB}`,
    // No PCI scan: the switch drives no NICs of its own, only vhost-user ports.
    'other_config:dpdk-extra=--no-pci',
    `other_config:pmd-maxsleep=${PMD_MAX_SLEEP_US}`,
  ];
}

/** `ovs-vsctl` arguments (after add-port's own) that make `port` a vhost-user client of `socket`. */
export function vhostInterfaceArgs(port: string, socket: string): string[] {
  return ['--', 'set', 'Interface', port, 'type=dpdkvhostuserclient', `options:vhost-server-path=${socket}`];
}

export interface HugepageCount {
  total: number;
  free: number;
}

/** The 2 MB hugepage pool of the machine (sysfs), or undefined when the kernel has none. */
export async function hugepages(root = '/sys'): Promise<HugepageCount | undefined> {
  const dir = join(root, 'kernel/mm/hugepages', `hugepages-${HUGEPAGE_KB}kB`);
  const read = async (f: string) => Number((await readFile(join(dir, f), 'utf8')).trim());
  try {
    return { total: await read('nr_hugepages'), free: await read('free_hugepages') };
  } catch {
    return undefined;
  }
}

export interface VhostUserPrerequisites {
  /** The DPDK build of ovs-vswitchd. */
  vswitchd?: string;
  /** sysfs root (tests). */
  sysRoot?: string;
  /** Folders searched for DPDK's ring mempool driver. */
  libDirs?: string[];
}

/**
 * Whether this host could start a DPDK-enabled ovs-vswitchd now: the binary,
 * the ring mempool driver and enough free hugepages. Starts nothing: quick
 * enough for every facts report. The reason names the package or setting.
 */
export async function vhostUserPrerequisites(p: VhostUserPrerequisites = {}): Promise<ProbeResult> {
  const bin = p.vswitchd ?? DPDK_VSWITCHD;
  if (!(await executable(bin))) {
    return { usable: false, reason: `${bin} is missing (Debian package openvswitch-switch-dpdk)` };
  }
  if (!(await mempoolRingPresent(p.libDirs))) {
    return {
      usable: false,
      reason: "DPDK's ring mempool driver librte_mempool_ring is missing (Debian package librte-mempool-ring23)",
    };
  }
  const pages = await hugepages(p.sysRoot);
  if (!pages) return { usable: false, reason: 'the kernel has no 2 MB hugepages' };
  const need = Math.ceil((DPDK_NEED_MB * 1024) / HUGEPAGE_KB);
  if (pages.free < need) {
    return {
      usable: false,
      reason: `${pages.free} free 2 MB hugepages, DPDK needs ${need} (${DPDK_NEED_MB} MB; raise /proc/sys/vm/nr_hugepages)`,
    };
  }
  return { usable: true };
}

const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];

/** librte_mempool_ring.so* directly in a library folder or in its dpdk/pmds-* plugin folder. */
async function mempoolRingPresent(dirs = LIB_DIRS): Promise<boolean> {
  const has = async (d: string) =>
    (await readdir(d).catch(() => [] as string[])).some((f) => f.startsWith('librte_mempool_ring.so'));
  for (const d of dirs) {
    if (await has(d)) return true;
    for (const sub of (await readdir(join(d, 'dpdk')).catch(() => [] as string[])).filter((s) =>
      s.startsWith('pmds-'),
    )) {
      if (await has(join(d, 'dpdk', sub))) return true;
    }
  }
  return false;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
