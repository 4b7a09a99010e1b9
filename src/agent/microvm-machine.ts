/**
 * A microVM's MachineSpec from its plan: the NICs as the taps the agent
 * plugged into their virtual networks (fixed MACs from the leases), the
 * disks the disk manager staged (the first OS image disk in raw or qcow2 is
 * the root disk — a qcow2 overlay over the cached image, or the VM's own copy
 * of a persistent image; the others are extra virtio-blk drives in target
 * order), and the kernel and initrd from KERNEL/RAMDISK images when the
 * template names them (otherwise the driver boots the host's guest kit).
 */
import type { PlanDisk, PlanMachine } from '../core/agent-protocol.js';
import type { DiskSpec, MachineSpec, NicSpec } from '../drivers/runtime/types.js';
import type { PreparedDisk } from './disks.js';

/** Whether a disk can be a microVM's root disk (an OS image that is a disk image, not a tarball). */
export function isRootDiskCandidate(d: PlanDisk): boolean {
  return d.type.toUpperCase() === 'OS' && d.imageId !== null && (d.format === 'raw' || d.format === 'qcow2');
}

export function diskSpec(p: PreparedDisk): DiskSpec {
  const readOnly = p.disk.readonly || p.format === 'iso';
  // Every writable staged file is already this VM's own (overlay, copy or volatile file): used as it is.
  return {
    path: p.path,
    format: p.format === 'qcow2' ? 'qcow2' : 'raw',
    ...(readOnly ? { readOnly } : { persistent: true }),
  };
}

export function microvmMachine(
  plan: PlanMachine | undefined,
  nics: NicSpec[],
  disks: PreparedDisk[],
  files: { kernel?: string; initrd?: string },
): MachineSpec {
  const ordered = [...disks].sort((a, b) => a.disk.target.localeCompare(b.disk.target));
  const root = ordered.find((p) => isRootDiskCandidate(p.disk));
  const extra = ordered.filter((p) => p !== root);
  return {
    ...(files.kernel ? { kernel: files.kernel } : {}),
    ...(files.initrd ? { initrd: files.initrd } : {}),
    ...(plan?.kernelCmdline ? { kernelCmdline: plan.kernelCmdline } : {}),
    ...(root ? { rootDisk: diskSpec(root) } : {}),
    ...(extra.length > 0 ? { disks: extra.map(diskSpec) } : {}),
    ...(nics.length > 0 ? { nics } : {}),
    ...(plan?.vnc ? { vnc: true } : {}),
    ...(plan?.threads ? { threads: plan.threads } : {}),
  };
}
