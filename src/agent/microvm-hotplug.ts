import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FrontEndMessage, PlanDisk, PlanNic } from '../core/agent-protocol.js';
import { OneError } from '../core/errors.js';
import type { MachineDevice, RuntimeDriver, WorkloadHandle } from '../drivers/runtime/types.js';
import type { DiskManager } from './disks.js';
import { diskSpec } from './microvm-machine.js';
import { hostIfName, type NetworkHost } from './network-host.js';
import type { WorkloadRecord, WorkloadRegistry } from './workload-registry.js';

type Plan = Extract<FrontEndMessage, { t: 'plan' }>;

/** The driver's hot-plug methods (RuntimeHost has them; capabilities.machineHotplug was checked). */
export type MachineDriver = Required<Pick<RuntimeDriver, 'attachDevice' | 'detachDevice' | 'updateContext'>>;

export const diskDeviceId = (diskId: number): string => `disk${diskId}`;
export const nicDeviceId = (nicId: number): string => `nic${nicId}`;

/**
 * The host side of NIC and disk hot-plug for microVMs (the runtime driver
 * plugs the devices, see drivers/runtime/qemu/hotplug.ts). Same ops and
 * guarantees as for containers (agent/hotplug.ts): idempotent, and a failed
 * attach leaves the host as it was.
 *
 *   attach-disk  stage like PROLOG (cache, copy-on-write overlay or own copy of a
 *                persistent image) → device with serial <TARGET> on a free slot
 *   detach-disk  the guest releases the device → persistent disk copied back → files deleted
 *   attach-nic   tap on the network (as at boot, with the security-group rules)
 *                → CONTEXT rewritten with the new ETHx_* → NIC device (the guest reads the context)
 *   detach-nic   NIC device released → tap, rules and the network's host side (last NIC) removed
 *                → CONTEXT rewritten without it
 *
 * On a powered-off VM the same ops change only what its next start plugs.
 */
export class MicrovmHotplug {
  constructor(
    private readonly registry: WorkloadRegistry,
    private readonly log: Logger,
    private readonly network?: NetworkHost,
    private readonly disks?: DiskManager,
  ) {}

  async attachDisk(plan: Plan, r: WorkloadRecord, driver: MachineDriver, signal: AbortSignal): Promise<void> {
    const disks = this.mustDisks();
    const disk = findDisk(plan.spec.disks, plan.spec.hotplug?.diskId);
    const handle = mustHandle(plan, r);
    if (disk.format === 'rootfs-tar' || disk.format === 'iso') {
      throw new OneError(
        'E_HOTPLUG_UNSUPPORTED',
        `disk ${disk.diskId} is a ${disk.format} image; a microVM hot-plugs disk images (raw, qcow2) and volatile disks`,
        { diskId: disk.diskId, format: disk.format },
      );
    }
    // Recorded before the transfer, so a cache eviction meanwhile cannot take the image.
    if (disk.sha256 && !(r.images ?? []).includes(disk.sha256)) {
      await this.registry.patch(plan.vmId, { images: [...(r.images ?? []), disk.sha256] });
    }
    try {
      const [prepared] = await disks.prepare(r.workDir, [disk], 'microvm', signal);
      if (!prepared) throw new OneError('E_HOTPLUG_UNSUPPORTED', `disk ${disk.diskId} cannot be staged as a disk`);
      const device: MachineDevice = {
        id: diskDeviceId(disk.diskId),
        disk: { ...diskSpec(prepared), serial: disk.target },
      };
      await driver.attachDevice(handle, device, signal);
      this.log.info({ vmId: plan.vmId, diskId: disk.diskId, target: disk.target }, 'disk hot-attached to microVM');
    } catch (err) {
      await disks.removeDisk(r.workDir, disk.diskId).catch(() => undefined);
      await this.forgetImage(plan, disk);
      throw err;
    }
  }

  async detachDisk(plan: Plan, r: WorkloadRecord, driver: MachineDriver, signal: AbortSignal): Promise<void> {
    const disks = this.mustDisks();
    const disk = findDisk(plan.spec.disks, plan.spec.hotplug?.diskId);
    const handle = mustHandle(plan, r);
    const path = await this.stagedPath(r, disk, signal);
    const device: MachineDevice = {
      id: diskDeviceId(disk.diskId),
      ...(path ? { disk: { path, format: disk.format === 'qcow2' ? 'qcow2' : 'raw' } } : {}),
    };
    // Returns once the guest let go of the disk: what it wrote is in the file now.
    await driver.detachDevice(handle, device, signal);
    await disks.copyBack(r.workDir, [disk], signal);
    await disks.removeDisk(r.workDir, disk.diskId);
    await this.forgetImage(plan, disk);
    this.log.info(
      { vmId: plan.vmId, diskId: disk.diskId, persistent: disk.persistent },
      'disk hot-detached from microVM',
    );
  }

  async attachNic(plan: Plan, r: WorkloadRecord, driver: MachineDriver, signal: AbortSignal): Promise<void> {
    const network = this.mustNetwork();
    const nic = findNic(plan.spec.nics, plan.spec.hotplug?.nicId);
    const handle = mustHandle(plan, r);
    const others = (r.nics?.nics ?? []).filter((n) => n.nicId !== nic.nicId);
    const tap = await network.attachTap(plan.vmId, nic, [...others, nic], signal);
    try {
      // The context first: the guest reads it when the NIC appears.
      await driver.updateContext(handle, plan.spec.context, signal);
      await driver.attachDevice(handle, nicDevice(nic, tap), signal);
    } catch (err) {
      const quiet = AbortSignal.timeout(15_000);
      await network.detachTap(plan.vmId, nic, others, quiet).catch(() => undefined);
      await driver.updateContext(handle, withoutNic(plan.spec.context, nic.nicId), quiet).catch(() => undefined);
      throw err;
    }
    await this.registry.patch(plan.vmId, { nics: { netns: '', kind: 'tap', nics: [...others, nic] } });
    this.log.info({ vmId: plan.vmId, nicId: nic.nicId, networkId: nic.networkId, tap }, 'nic hot-attached to microVM');
  }

  async detachNic(plan: Plan, r: WorkloadRecord, driver: MachineDriver, signal: AbortSignal): Promise<void> {
    const network = this.mustNetwork();
    const nicId = plan.spec.hotplug?.nicId;
    const handle = mustHandle(plan, r);
    const nic = r.nics?.nics.find((n) => n.nicId === nicId);
    if (!nic) return; // never wired here: nothing to remove
    const rest = (r.nics?.nics ?? []).filter((n) => n.nicId !== nic.nicId);
    await driver.detachDevice(handle, nicDevice(nic, hostIfName(plan.vmId, nic.nicId)), signal);
    await network.detachTap(plan.vmId, nic, rest, signal);
    await this.registry.patch(plan.vmId, { nics: { netns: '', kind: 'tap', nics: rest } });
    await driver.updateContext(handle, withoutNic(plan.spec.context, nic.nicId), signal);
    this.log.info({ vmId: plan.vmId, nicId: nic.nicId, networkId: nic.networkId }, 'nic hot-detached from microVM');
  }

  /**
   * Start of a powered-off microVM: NICs attached or detached while it was off
   * (a template change only) get or lose their taps, and the machine's device
   * list and context follow, before QEMU starts.
   */
  async syncNics(plan: Plan, r: WorkloadRecord, driver: MachineDriver, signal: AbortSignal): Promise<void> {
    const wanted = plan.spec.nics ?? [];
    const wired = r.nics?.nics ?? [];
    const have = new Set(wired.map((n) => n.nicId));
    const keep = new Set(wanted.map((n) => n.nicId));
    const gone = wired.filter((n) => !keep.has(n.nicId));
    const added = wanted.filter((n) => !have.has(n.nicId));
    if (gone.length === 0 && added.length === 0) return;
    const handle = mustHandle(plan, r);
    const network = this.mustNetwork();
    let now = wired;
    for (const nic of gone) {
      now = now.filter((n) => n.nicId !== nic.nicId);
      await driver.detachDevice(handle, nicDevice(nic, hostIfName(plan.vmId, nic.nicId)), signal);
      await network.detachTap(plan.vmId, nic, now, signal);
    }
    for (const nic of added) {
      now = [...now, nic];
      const tap = await network.attachTap(plan.vmId, nic, now, signal);
      await driver.attachDevice(handle, nicDevice(nic, tap), signal);
    }
    await this.registry.patch(plan.vmId, { nics: { netns: '', kind: 'tap', nics: now } });
    await driver.updateContext(handle, plan.spec.context, signal);
    this.log.info({ vmId: plan.vmId, added: added.length, removed: gone.length }, 'nics changed while off applied');
  }

  /** The file a staged disk uses, without staging anything new (undefined: it is not here). */
  private async stagedPath(r: WorkloadRecord, disk: PlanDisk, signal: AbortSignal): Promise<string | undefined> {
    const own = join(r.workDir, 'disks', `disk.${disk.diskId}`);
    for (const p of [`${own}.qcow2`, own]) if (existsSync(p)) return p;
    // A read-only disk is the cached image itself.
    if (disk.readonly && disk.sha256) {
      const [p] = await this.mustDisks().prepare(r.workDir, [disk], 'microvm', signal);
      return p?.path;
    }
    return undefined;
  }

  /** The image of a disk that left is no longer pinned in the cache, unless another disk uses it. */
  private async forgetImage(plan: Plan, disk: PlanDisk): Promise<void> {
    const r = this.registry.get(plan.vmId);
    if (!r || !disk.sha256) return;
    const others = (plan.spec.disks ?? []).filter((d) => d.diskId !== disk.diskId).map((d) => d.sha256);
    const boot = [plan.spec.image?.sha256, plan.spec.machine?.kernel?.sha256, plan.spec.machine?.initrd?.sha256];
    if (others.includes(disk.sha256) || boot.includes(disk.sha256)) return;
    await this.registry.patch(plan.vmId, { images: (r.images ?? []).filter((s) => s !== disk.sha256) });
  }

  private mustNetwork(): NetworkHost {
    if (!this.network) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent has no network support');
    return this.network;
  }

  private mustDisks(): DiskManager {
    if (!this.disks) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent cannot manage disks');
    return this.disks;
  }
}

function nicDevice(nic: PlanNic, tap: string): MachineDevice {
  return { id: nicDeviceId(nic.nicId), nic: { tap, mac: nic.mac, ...(nic.mtu ? { mtu: nic.mtu } : {}) } };
}

/** The context without a NIC's ETH<id>_* variables (the NIC left, or its attach was undone). */
export function withoutNic(context: Record<string, string>, nicId: number): Record<string, string> {
  const prefix = `ETH${nicId}_`;
  return Object.fromEntries(Object.entries(context).filter(([k]) => !k.startsWith(prefix)));
}

function mustHandle(plan: Plan, r: WorkloadRecord): WorkloadHandle {
  if (!r.handle) throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no microVM on this host yet`);
  return r.handle;
}

function findNic(nics: PlanNic[] | undefined, nicId: number | undefined): PlanNic {
  const nic = nics?.find((n) => n.nicId === nicId);
  if (!nic) throw new OneError('E_DRIVER_FAILED', `the plan has no NIC ${String(nicId)} to attach`);
  return nic;
}

function findDisk(disks: PlanDisk[] | undefined, diskId: number | undefined): PlanDisk {
  const disk = disks?.find((d) => d.diskId === diskId);
  if (!disk) throw new OneError('E_DRIVER_FAILED', `the plan has no DISK ${String(diskId)}`);
  return disk;
}
